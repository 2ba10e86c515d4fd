// The admin requests of `nexttap models activate` and `rollback` to a running ranker.

import { parsePlainInteger } from '@nexttap/http';
import type { CommandIo } from './models-command';

/**
 * Returns the ranker URL of an admin call: `--url`, else http://127.0.0.1:$PORT. Returns a usage
 * error message instead when `--url` is no http(s) origin or PORT is no port number.
 */
export function resolveRankerUrl(flag: string | undefined, environment: CommandIo['environment']): URL | string {
  if (flag === undefined) {
    const port = environment.PORT ?? '8080';
    const number = parsePlainInteger(port);
    if (number === undefined || number < 1 || number > 65_535) {
      return `PORT ${JSON.stringify(port)} is not a port number; the ranker URL defaults to http://127.0.0.1:$PORT, so set PORT to the ranker's port (1 to 65535) or pass --url URL`;
    }
    return new URL(`http://127.0.0.1:${number}`);
  }
  const example = 'such as --url http://127.0.0.1:8080';
  let url: URL;
  try {
    url = new URL(flag);
  } catch {
    return `--url ${flag} is not a URL; pass the ranker's origin, ${example}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `--url ${flag} is not an http or https URL; pass the ranker's origin, ${example}`;
  }
  // The admin paths are absolute, so new URL(path, base) would drop a path of --url without a word.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return `--url ${flag} has a path or query; pass only the ranker's origin, ${url.origin}, because the command adds /v1/admin/models/... itself`;
  }
  return url;
}

/** The ranker origin and bearer token of the admin requests of one command run. */
export interface AdminTarget {
  baseUrl: URL;
  token: string;
}

/** An admin reply that the ranker accepted: its body as text. */
interface AdminReply {
  text: string;
}

/**
 * Resolves the ranker URL and the token of ADMIN_TOKEN. Prints a usage error and returns exit code 2
 * when either is invalid or missing.
 */
export function resolveAdminTarget(urlFlag: string | undefined, io: CommandIo): AdminTarget | number {
  const baseUrl = resolveRankerUrl(urlFlag, io.environment);
  if (typeof baseUrl === 'string') {
    return usage(io, baseUrl);
  }
  const token = io.environment.ADMIN_TOKEN ?? '';
  if (token === '') {
    return usage(io, 'ADMIN_TOKEN is not set; export the token the ranker was started with');
  }
  return { baseUrl, token };
}

/**
 * Sends one admin request with the bearer token. Returns the body of a 2xx reply. Prints one line
 * on stderr and returns exit code 1 when the request fails or the ranker rejects it, with the
 * ranker's error code and message when the reply has them.
 */
export async function sendAdmin(target: AdminTarget, method: 'GET' | 'POST', path: string, body: object | undefined, io: CommandIo): Promise<AdminReply | number> {
  const url = new URL(path, target.baseUrl);
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${target.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    io.stderr.write(`nexttap: request to ${url.href} failed (${describeFetchError(error)}); check --url and that the ranker runs\n`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    io.stderr.write(`nexttap: ${describeAdminError(url, response.status, text)}\n`);
    return 1;
  }
  return { text };
}

/**
 * Sends one admin POST with the bearer token of ADMIN_TOKEN. Prints the reply body on stdout
 * when the ranker accepts it. A `note` in the reply goes to stderr as a warning, because it means
 * the feeds do not follow the change (an experiment runs, or the version was already live). A
 * rejected request prints one line with the ranker's error code and message on stderr.
 */
export async function callAdmin(urlFlag: string | undefined, path: string, body: object | undefined, io: CommandIo): Promise<number> {
  const target = resolveAdminTarget(urlFlag, io);
  return typeof target === 'number' ? target : postAdmin(target, path, body, io);
}

/** Sends one admin POST to a resolved target and prints the reply as `callAdmin` describes. */
export async function postAdmin(target: AdminTarget, path: string, body: object | undefined, io: CommandIo): Promise<number> {
  const reply = await sendAdmin(target, 'POST', path, body, io);
  if (typeof reply === 'number') {
    return reply;
  }
  io.stdout.write(`${reply.text}\n`);
  const note = parseNote(reply.text);
  if (note !== undefined) {
    io.stderr.write(`nexttap: warning: ${note}\n`);
  }
  return 0;
}

/** Describes a rejected admin request in one line: the ranker's error code and message, or the status and body. */
function describeAdminError(url: URL, status: number, text: string): string {
  const error = parseErrorBody(text);
  if (error === undefined) {
    const excerpt = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    return `${url.href} replied HTTP ${status}${excerpt === '' ? '' : `: ${excerpt}`}; check --url and that it is a nexttap ranker`;
  }
  const message = error.message.replace(/\s+/g, ' ').trim();
  // A ranker without ADMIN_TOKEN registers no admin route, so the HTTP layer's not-found reply comes back.
  if (status === 404 && !error.code.startsWith('RANKER_ERR_')) {
    return `the ranker at ${url.origin} has no admin routes (${error.code}: ${message}); start it with ADMIN_TOKEN set`;
  }
  return `${error.code}: ${message}`;
}

/** Returns the `note` of an accepted admin reply, or undefined when it has none. */
function parseNote(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const note = (body as { note?: unknown } | null)?.note;
  return typeof note === 'string' ? note : undefined;
}

/** Returns the `error` object of a nexttap error reply, or undefined when the body is not one. */
function parseErrorBody(text: string): { code: string; message: string } | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && typeof error.message === 'string' ? { code: error.code, message: error.message } : undefined;
}

/** Returns the message of a failed fetch with its cause, such as `fetch failed: connect ECONNREFUSED 127.0.0.1:9`. */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Prints a usage error as one line and returns exit code 2, as the models command does. */
function usage(io: CommandIo, message: string): number {
  io.stderr.write(`nexttap: ${message}\n`);
  return 2;
}
