# All roles in one image, for the embedded mode (`--role all`, MovieLens seeded into the in-memory
# store) and for `nexttap import movielens`. The services have their own smaller images:
# services/ingest/Dockerfile and services/ranker/Dockerfile.

# Stage 1 installs the production dependencies of every workspace with the npm toolchain.
FROM node:20-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY packages ./packages
COPY services ./services
# Install scripts are skipped: onnxruntime-node bundles its CPU binaries, and its script only
# downloads files not bundled in the package, such as the CUDA binaries (.npmrc skips it as well).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# Stage 2 keeps the sources, node_modules, the models and the MovieLens data, and runs as the
# image's unprivileged user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY --from=dependencies --chown=node:node /app/package.json ./
COPY --from=dependencies --chown=node:node /app/node_modules ./node_modules
COPY --from=dependencies --chown=node:node /app/packages ./packages
COPY --from=dependencies --chown=node:node /app/services ./services
COPY --chown=node:node models ./models
COPY --chown=node:node data ./data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "packages/cli/bin/nexttap.js", "serve"]
CMD ["--role", "all"]
