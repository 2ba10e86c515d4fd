// `nexttap models activate NAME`: activates the highest version of NAME in the ranker's registry.

import { postAdmin, resolveAdminTarget, sendAdmin, type AdminTarget } from './ranker-admin';
import type { CommandIo } from './models-command';

/** One version of `GET /v1/admin/models` `registryVersions`, with the result of the ranker's quick check. */
interface RegistryVersion {
  model: string;
  valid: boolean;
  problem?: string;
}

/**
 * Activates the highest version of `name` in the ranker's registry, which `GET /v1/admin/models`
 * lists, and names the version on stderr before activating it. Versions compare as
 * `replay --model NAME` compares them: digit runs as numbers, so version 10 comes after 9. When
 * the highest version fails the ranker's quick check, nothing is activated, because falling back to
 * an older version would serve a model other than the one the user just added.
 */
export async function activateLatestVersion(urlFlag: string | undefined, name: string, io: CommandIo): Promise<number> {
  const target = resolveAdminTarget(urlFlag, io);
  if (typeof target === 'number') {
    return target;
  }
  const versions = await readRegistryVersions(target, io);
  if (typeof versions === 'number') {
    return versions;
  }
  const ofName = sortVersionsOf(versions, name);
  const latest = ofName[0];
  if (latest === undefined) {
    io.stderr.write(`nexttap: model ${name} not found: the registry of the ranker at ${target.baseUrl.origin} has no version of it; GET /v1/admin/models on the ranker lists its registry\n`);
    return 1;
  }
  if (!latest.valid) {
    const older = ofName.find((version) => version.valid);
    const example = older === undefined ? '' : `, or activate an older version explicitly, such as nexttap models activate ${older.model}`;
    io.stderr.write(`nexttap: ${latest.model}, the highest version of ${name}, is invalid (${latest.problem ?? 'the quick check failed'}), so nothing was activated; fix its files${example}\n`);
    return 1;
  }
  io.stderr.write(`nexttap: activating ${latest.model}, the highest version of ${name} in the ranker's registry\n`);
  return postAdmin(target, '/v1/admin/models/activate', { model: latest.model }, io);
}

/** Reads `registryVersions` of `GET /v1/admin/models`; prints the failure and returns exit code 1 when the request or the reply is bad. */
async function readRegistryVersions(target: AdminTarget, io: CommandIo): Promise<RegistryVersion[] | number> {
  const reply = await sendAdmin(target, 'GET', '/v1/admin/models', undefined, io);
  if (typeof reply === 'number') {
    return reply;
  }
  let versions: unknown;
  try {
    versions = (JSON.parse(reply.text) as { registryVersions?: unknown } | null)?.registryVersions;
  } catch {
    versions = undefined;
  }
  if (!Array.isArray(versions)) {
    io.stderr.write(`nexttap: GET ${target.baseUrl.origin}/v1/admin/models replied without registryVersions; check --url and that it is a nexttap ranker\n`);
    return 1;
  }
  return versions as RegistryVersion[];
}

/** Returns the versions of model `name`, highest first, comparing digit runs as numbers. */
function sortVersionsOf(versions: readonly RegistryVersion[], name: string): RegistryVersion[] {
  const prefix = `${name}@`;
  const ofName = versions.filter((version) => typeof version.model === 'string' && version.model.startsWith(prefix));
  return ofName.sort((a, b) => b.model.slice(prefix.length).localeCompare(a.model.slice(prefix.length), 'en', { numeric: true }));
}
