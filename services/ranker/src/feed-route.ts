import { rejectQueryParameters } from '@nexttap/http';
import type { FastifyInstance } from 'fastify';
import { decodeCursor } from './cursor';
import { installFeedBodyParser } from './feed-body-parser';
import type { FeedService } from './feed-service';
import { parseFeedRequest } from './parse-feed-request';

/**
 * Registers `POST /v1/feed`: ranks a feed for a session, or serves the next page of one. The route
 * has a scope of its own, so that its JSON body parser (`installFeedBodyParser`) serves no other route.
 */
export function registerFeedRoute(instance: FastifyInstance, service: FeedService): void {
  void instance.register(async (scope) => {
    installFeedBodyParser(scope);
    scope.post('/v1/feed', async (request) => {
      rejectQueryParameters(request, 'RANKER_ERR_INVALID_REQUEST');
      const body = parseFeedRequest(request.body);
      const cursor = body.cursor === undefined ? undefined : decodeCursor(body.cursor);
      return service.serve(
        {
          sessionId: body.sessionId,
          userId: body.userId,
          limit: body.limit,
          candidates: body.candidates,
          exclude: body.exclude,
          explain: body.explain,
        },
        { kind: cursor === undefined ? 'first-page' : 'next-page', cursor, includeCatalog: body.includeCatalog, log: request.log },
      );
    });
  });
}
