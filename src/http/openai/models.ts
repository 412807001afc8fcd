import type { IncomingMessage, ServerResponse } from 'node:http';
import { isPromise } from '../../db/store';
import type { Services } from '../../services';
import { authenticateHeader, CHALLENGE_INSUFFICIENT_SCOPE, DUPLICATE, EXPIRATION_HEADER, type AuthOutcome } from '../auth';
import { toHttpError } from '../errors';
import type { TriggerShared } from '../trigger/index';

/** One model as OpenAI lists it: a pipeline this token may call. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/**
 * `GET /v1/models` (every pipeline the token may call: its app's, within its scope) and
 * `GET /v1/models/<model>` (one of them, else 404 `pipeline_not_found`). Authenticated as the
 * trigger is (the RFC 6750 answers, the IP allow-list, a use counted per token and day); an admin
 * token is refused (403). Not a hot path: the list is read through the services.
 */
export function answerModels(core: TriggerShared, services: Services, req: IncomingMessage, res: ServerResponse, url: string, started: number, modelId: string | undefined): void {
  let authorization: string | typeof DUPLICATE | undefined;
  let forwardedFor: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'authorization') authorization = authorization === undefined ? raw[i + 1]! : DUPLICATE;
    else if (name === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? raw[i + 1] : `${forwardedFor},${raw[i + 1]}`;
  }
  const unavailable = (error: unknown) => {
    const failure = toHttpError(error);
    core.logger.warn({ err: error, route: url }, 'listing models failed');
    const code = failure.code === 'unavailable' ? 'unavailable' : 'internal';
    core.sendError(res, code === 'unavailable' ? 503 : 500, code, code === 'unavailable' ? failure.message : 'internal error; the server log has the details', code === 'unavailable' ? { 'Retry-After': '2' } : null, started, null, null);
  };
  const list = async (auth: AuthOutcome): Promise<void> => {
    if (!auth.ok) {
      core.countAuthFailure(auth.reason);
      return core.sendError(res, auth.status, auth.code, auth.message, { 'WWW-Authenticate': auth.challenge }, started, auth.tokenId ?? null, null);
    }
    const token = auth.token;
    const controls = core.controls.forToken(token.id, token.pipelines, token.allowedIps);
    const address = core.addresses.of(req.socket.remoteAddress, forwardedFor);
    if (controls !== null && !controls.allowsAddress(address)) {
      core.countAuthFailure('ip_not_allowed');
      const where = address === '' ? 'an address that could not be determined' : address;
      return core.sendError(res, 403, 'ip_not_allowed', `token ${token.id} may not be used from ${where}: its allowed_ips do not include it; use it from an allowed network, or create a token for this one`, null, started, token.id, null);
    }
    core.usage.touch(token.id, address);
    const expiration = core.expirationOf(token.expiresAt);
    if (token.kind !== 'trigger' || token.app === null) {
      core.countAuthFailure('insufficient_scope');
      return core.sendError(res, 403, 'insufficient_scope', `token ${token.id} is an admin token; the models are the pipelines a trigger token (mm_tok_…) may call`, { 'WWW-Authenticate': CHALLENGE_INSUFFICIENT_SCOPE, [EXPIRATION_HEADER]: expiration }, started, token.id, null);
    }
    const app = token.app;
    const pipelines = await services.pipelines.list(app);
    const data: ModelObject[] = [];
    for (const pipeline of pipelines) {
      if (controls !== null && !controls.allowsPipeline(pipeline.slug)) continue;
      data.push({ id: pipeline.slug, object: 'model', created: Math.floor(Date.parse(pipeline.created_at) / 1000), owned_by: app });
    }
    if (modelId === undefined) return core.sendJson(res, 200, JSON.stringify({ object: 'list', data }), { [EXPIRATION_HEADER]: expiration }, started, token.id, null);
    const found = data.find((m) => m.id === modelId);
    if (found !== undefined) return core.sendJson(res, 200, JSON.stringify(found), { [EXPIRATION_HEADER]: expiration }, started, token.id, null);
    core.sendError(res, 404, 'pipeline_not_found', `model ${/^[a-z0-9][a-z0-9-]{0,62}$/.test(modelId) ? `"${modelId}" ` : ''}is not a pipeline this token may call in app "${app}"; GET /v1/models lists them`, { [EXPIRATION_HEADER]: expiration }, started, token.id, null);
  };
  try {
    const outcome = authenticateHeader(authorization, url, core.verify);
    const listed = isPromise(outcome) ? outcome.then(list) : list(outcome);
    listed.catch(unavailable);
  } catch (error) {
    unavailable(error);
  }
}
