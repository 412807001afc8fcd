import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PipelineConfig, PipelineKind } from '../../apps/pipeline-config';
import { formatTime, type Clock } from '../../clock';
import { isPromise, type MaybePromise } from '../../db/store';
import type { ErrorCode } from '../../errors';
import { accessLogger, createLogger, type Logger } from '../../log';
import type { RunInput } from '../../pipelines/index';
import type { Services } from '../../services';
import { ControlsCache, type CompiledControls } from '../../tokens/controls';
import type { PipelineTarget, TokenLiveness, TokenService, VerifiedToken } from '../../tokens/service';
import { ACCEPTED, type UsageRecorder } from '../../tokens/usage';
import { authenticateHeader, CHALLENGE_INSUFFICIENT_SCOPE, DUPLICATE, scopeChallenge, EXPIRATION_HEADER, invalidTokenChallenge, type AuthOutcome, type Verify } from '../auth';
import { ClientAddresses } from '../client-address';
import { errorBody, toHttpError } from '../errors';
import { continueIfExpected } from '../continue';
import { parseJsonObject } from '../json-body';
import { prefersEventStream } from '../media';
import { Metrics } from '../metrics';
import { StreamRegistry } from '../streams';
import { Admission } from './admission';
import { BodyReader, type BodyOutcome } from './body';
import { Run } from '../../runs/run';
import { newRunId } from '../../runs/run-id';
import type { KeyState, RunService } from '../../runs/service';
import { SSE_RETRY_MS } from '../sse';
import { answerHeldKey, checkRunHeaders, fingerprintOf, reconnect, storeAnswerWhenEnded, type ResumeContext, type RunHeaders } from './resume';
import { executeRun, jsonRun, streamRun, type LogRequest, type RunState, type SendJson } from './runs';
import { currentTurn } from './turn';

export const TRIGGER_PREFIX = '/v1/trigger/';
export const TRIGGER_ROUTE = '/v1/trigger/:pipeline';

/** How long a client should wait before retrying after a storage failure (seconds). */
const UNAVAILABLE_RETRY_AFTER = '2';

export interface TriggerOptions {
  /**
   * Token verification; default `services.tokens.verify` (reads the store every call, and fetches
   * the pipeline in the same read). Benchmarks may inject a constant; the pipeline is then read apart.
   */
  verify?: Verify;
  logger?: Logger;
  metrics?: Metrics;
  /** The open-stream registry (its watcher ends streams of revoked tokens). Default: a new one, started. */
  streams?: StreamRegistry;
  /** Largest body accepted (bytes); default `services.config.maxBodyBytes` (MM_MAX_BODY). */
  maxBodyBytes?: number;
  /** The `retry:` an SSE answer sends first (ms); default 3000 (SPEC). Tests shorten it. */
  sseRetryMs?: number;
  /**
   * Keep runs (default true): false runs each trigger without keeping it, so that it cannot be
   * read, resumed or replayed; only the benchmark's like-for-like comparison uses it.
   */
  keepRuns?: boolean;
  /**
   * Re-check the token before a run whose body came in a later turn (default true, SPEC "Limits and
   * hardening"): false skips it and its turn bookkeeping; only the benchmark's like-for-like
   * comparison (`ours-norecheck`) uses it, to show what the re-check costs.
   */
  recheck?: boolean;
}

/**
 * The trigger hot path as a plain node:http handler: answers `POST /v1/trigger/<pipeline>` and
 * returns true, or returns false (having touched nothing) for every other request, so that it can
 * sit in front of the Express app on the same listener.
 */
export type TriggerHandler = ((req: IncomingMessage, res: ServerResponse) => boolean) & {
  readonly streams: StreamRegistry;
  /** From now on, answers 503 `shutting_down` (with Connection: close). */
  beginShutdown(): void;
  /** Runs in progress (JSON and SSE), of every door. */
  readonly activeRuns: number;
  /** What its requests share: another door (src/http/openai/) opens onto it with `core.forDoor`. */
  readonly core: TriggerShared;
};

const JSON_TYPE = 'application/json; charset=utf-8';
/** Expiry header texts kept (one per token in use, at most; see TriggerShared.expirationOf). */
const EXPIRATIONS_KEPT = 10_000;
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * Another door onto the same hot path (the OpenAI-compatible front door, src/http/openai/): the
 * same phases, tokens, controls, limits, runs and idempotency, with the pipeline named in the body
 * and answers in the door's own shape. The trigger itself has no door (its code paths are unchanged).
 */
export interface Door {
  /** The route label of its access-log lines and metrics … */
  readonly route: string;
  /** … and its method (default POST). */
  readonly method?: string;
  /** The body of a refusal with this code and message. */
  errorBody(code: ErrorCode, message: string): string;
  /** The call in the body: the pipeline, its input, and whether the answer streams; else a 400 with this code and message. */
  readCall(body: Buffer): DoorCall | { ok: false; code: ErrorCode; message: string };
  /** Answers a run started by the phases (JSON or streamed; `executeRun` has started it). */
  answerRun(res: ServerResponse, state: RunState, stream: boolean, sendJson: SendJson, logRequest: LogRequest): void;
  /** Answers a request whose Idempotency-Key another request holds (see resume.ts answerHeldKey). */
  answerHeld(ctx: ResumeContext, held: KeyState, fingerprint: string, stream: boolean): void;
}

export interface DoorCall {
  ok: true;
  slug: string;
  input: RunInput;
  stream: boolean;
}

/** Counters every door shares with the trigger (shutdown, runs in progress). */
interface Gate {
  closing: boolean;
  activeRuns: number;
}

/** Is this Content-Type JSON (`application/json` or `…+json`, any parameters)? */
function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  if (contentType === 'application/json') return true; // what nearly every client sends
  const semicolon = contentType.indexOf(';');
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * What every trigger request shares: settings, the store's hot reads, counters and the answer
 * writers. Made once per handler; a request is a `TriggerRequest` whose methods are the phases.
 */
export class TriggerShared {
  readonly gate: Gate;
  readonly admission: Admission;
  readonly clock: Clock;
  readonly usage: UsageRecorder;
  readonly tokens: TokenService;
  readonly runs: RunService;
  readonly maxBodyBytes: number;
  /** Tokens' pipeline scopes and IP allow-lists, compiled once per token. */
  readonly controls: ControlsCache;
  readonly addresses: ClientAddresses;
  readonly retryMs: number;
  readonly keepRuns: boolean;
  readonly recheck: boolean;
  private readonly configs: Map<string, PipelineConfig>;
  private readonly authFailures = new Map<string, { inc(): void }>();
  private readonly writeAccessLine: ReturnType<typeof accessLogger>;
  private readonly countRequest: (status: number) => void;
  /**
   * Expiry header texts by expiry time: every request of a token sends the same text, and formatting
   * it (a Date and its ISO text) cost ~2 % of a request. Bounded: a full map starts again empty.
   */
  private readonly expirations = new Map<number, string>();

  constructor(
    readonly services: Services,
    readonly verify: Verify,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly streams: StreamRegistry,
    maxBodyBytes: number,
    retryMs: number,
    keepRuns: boolean,
    recheck: boolean,
    /** Another door onto this trigger (null: the trigger itself) … */
    readonly door: Door | null = null,
    /** … sharing this one's slots, caches and gate. */
    base: TriggerShared | null = null,
  ) {
    this.clock = services.clock;
    this.usage = services.usage;
    this.tokens = services.tokens;
    this.runs = services.runs;
    this.maxBodyBytes = maxBodyBytes;
    this.addresses = base?.addresses ?? new ClientAddresses(services.config.trustedProxies);
    this.retryMs = retryMs;
    this.keepRuns = keepRuns;
    this.recheck = recheck;
    this.admission = base?.admission ?? new Admission(services.config.maxRunsPerToken, services.config.maxChildren);
    this.controls = base?.controls ?? new ControlsCache();
    this.configs = base?.configs ?? new Map<string, PipelineConfig>();
    this.gate = base?.gate ?? { closing: false, activeRuns: 0 };
    const route = door?.route ?? TRIGGER_ROUTE;
    this.writeAccessLine = accessLogger(logger, door?.method ?? 'POST', route);
    this.countRequest = metrics.requestCounter(route, door?.method ?? 'POST');
  }

  /** The shared core of another door onto this trigger (same slots, caches, gate, registry and settings). */
  forDoor(door: Door): TriggerShared {
    return new TriggerShared(this.services, this.verify, this.logger, this.metrics, this.streams, this.maxBodyBytes, this.retryMs, this.keepRuns, this.recheck, door, this);
  }

  /** Starts a request of this core's door: the same phases as a trigger (see TriggerRequest). */
  startRequest(req: IncomingMessage, res: ServerResponse, url: string, started: number): void {
    new TriggerRequest(this, req, res, url, '', started).authenticate();
  }

  /** Parsed configs keyed by their stored text: a changed pipeline has a new text, so this can never serve a stale config. */
  parseConfig(text: string): PipelineConfig {
    let config = this.configs.get(text);
    if (config === undefined) {
      config = JSON.parse(text) as PipelineConfig;
      if (this.configs.size >= 1000) this.configs.clear();
      this.configs.set(text, config);
    }
    return config;
  }

  expirationOf(expiresAt: number): string {
    let text = this.expirations.get(expiresAt);
    if (text === undefined) {
      text = formatTime(expiresAt);
      if (this.expirations.size >= EXPIRATIONS_KEPT) this.expirations.clear();
      this.expirations.set(expiresAt, text);
    }
    return text;
  }

  countAuthFailure(reason: string): void {
    let child = this.authFailures.get(reason);
    if (child === undefined) this.authFailures.set(reason, (child = this.metrics.authFailures.labels(reason)));
    child.inc();
  }

  readonly logRequest = (started: number, status: number, tokenId: string | null, pipeline: string | null, outcome?: string): void => {
    this.countRequest(status);
    this.writeAccessLine({ status, durationMs: performance.now() - started, tokenId, pipeline, outcome });
  };

  readonly sendJson = (res: ServerResponse, status: number, body: string, headers: Record<string, string> | null, started: number, tokenId: string | null, pipeline: string | null): void => {
    if (res.headersSent || res.destroyed) return;
    // writeHead with a flat name/value list: no per-header setHeader bookkeeping on the hot path.
    const list: Array<string | number> = ['Content-Type', JSON_TYPE, 'Content-Length', Buffer.byteLength(body)];
    if (headers !== null) for (const name in headers) list.push(name, headers[name]!);
    res.writeHead(status, list as string[]);
    res.end(body);
    this.logRequest(started, status, tokenId, pipeline);
  };

  /** Every refusal goes through here: counted against its token when the token is known (usage per day). */
  sendError(res: ServerResponse, status: number, code: ErrorCode, message: string, headers: Record<string, string> | null, started: number, tokenId: string | null, pipeline: string | null): void {
    if (tokenId !== null) this.usage.count(tokenId, code);
    this.sendJson(res, status, this.door === null ? errorBody(code, message) : this.door.errorBody(code, message), headers, started, tokenId, pipeline);
  }
}

/**
 * One trigger request, phase by phase: authenticate (before any byte of the body is read) → admit
 * (the token's kind, rate limit, runs at once, the pipeline of its own app, the Content-Type and the
 * declared length) → read the body → re-check the token if the body came in a later event-loop turn
 * than its verification (a revoke returned meanwhile wins) → run, answered as JSON or streamed as
 * SSE. A phase that waits for the store (PostgreSQL) continues when it answers; on SQLite every
 * phase up to the run is synchronous. Any storage failure answers 503 `unavailable`.
 */
class TriggerRequest {
  private authorization: string | typeof DUPLICATE | undefined;
  private contentType: string | undefined;
  private contentLength: string | undefined;
  private accept: string | undefined;
  private forwardedFor: string | undefined;
  /** Run headers (docs/runs.md): absent on most triggers, which then pay for none of them. */
  private runHeaders: RunHeaders | undefined;
  private background = false;
  private rawBody: Buffer | undefined;
  private token!: VerifiedToken;
  private expiration = '';
  private target!: PipelineTarget;
  /** The pipeline as the verification read it (undefined: read apart). */
  private pipelineFound: PipelineTarget | null | undefined;
  private verifiedTurn = -1;
  private holdsRun = false;
  private holdsChild = false;
  private body: BodyReader | undefined;
  private input: RunInput | undefined;
  /** A door's call asked for a streamed answer. */
  private stream = false;

  constructor(
    private readonly shared: TriggerShared,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly url: string,
    /** From the URL (the trigger), or from the body (a door): '' until it is read. */
    private slug: string,
    private readonly started: number,
  ) {}

  /** Phase 1: one pass over the raw headers, then authentication. */
  authenticate(): void {
    const raw = this.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      switch (name.length) {
        case 13: {
          const lower = name.toLowerCase();
          if (lower === 'authorization') this.authorization = this.authorization === undefined ? raw[i + 1]! : DUPLICATE;
          else if (lower === 'last-event-id') this.runHeadersOf().lastEventId = raw[i + 1];
          break;
        }
        case 15: {
          const lower = name.toLowerCase();
          if (lower === 'x-forwarded-for') this.forwardedFor = this.forwardedFor === undefined ? raw[i + 1] : `${this.forwardedFor},${raw[i + 1]}`;
          else if (lower === 'idempotency-key') {
            const headers = this.runHeadersOf();
            if (headers.idempotencyKey !== undefined) headers.duplicateKey = true;
            headers.idempotencyKey = raw[i + 1];
          }
          break;
        }
        case 18:
          if (name.toLowerCase() === 'mechamental-run-id') this.runHeadersOf().runId = raw[i + 1];
          break;
        case 20:
          if (name.toLowerCase() === 'mechamental-run-mode') this.runHeadersOf().runMode = raw[i + 1];
          break;
        case 12:
          if (name.toLowerCase() === 'content-type') this.contentType = raw[i + 1];
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') this.contentLength = raw[i + 1];
          break;
        case 6:
          if (name.toLowerCase() === 'accept') this.accept = this.accept === undefined ? raw[i + 1] : `${this.accept},${raw[i + 1]}`;
          break;
      }
    }
    if (this.shared.recheck) this.verifiedTurn = currentTurn();
    let outcome: MaybePromise<AuthOutcome>;
    try {
      outcome = authenticateHeader(this.authorization, this.url, this.shared.verify, this.shared.door === null ? this.slug : undefined);
    } catch (error) {
      return this.unavailable(error);
    }
    if (isPromise(outcome)) {
      outcome.then(
        (result) => this.admit(result),
        (error: unknown) => this.unavailable(error),
      );
    } else this.admit(outcome);
  }

  private runHeadersOf(): RunHeaders {
    return (this.runHeaders ??= { lastEventId: undefined, runId: undefined, idempotencyKey: undefined, duplicateKey: false, runMode: undefined });
  }

  /** Phase 2: refusals that need no body, in the order SPEC's table gives; then the body is read. */
  private admit(auth: AuthOutcome): void {
    const { shared, res, started } = this;
    if (!auth.ok) {
      shared.countAuthFailure(auth.reason);
      return shared.sendError(res, auth.status, auth.code, auth.message, { 'WWW-Authenticate': auth.challenge }, started, auth.tokenId ?? null, null);
    }
    const token = (this.token = auth.token);
    // The token's controls: compiled once per token; null (no lookup at all) for a token without any.
    const controls = shared.controls.forToken(token.id, token.pipelines, token.allowedIps);
    const address = shared.addresses.of(this.req.socket.remoteAddress, this.forwardedFor);
    // From elsewhere: refused before it counts as a use.
    if (controls !== null && !controls.allowsAddress(address)) return this.refuseAddress(address);
    shared.usage.touch(token.id, address);
    const expiration = (this.expiration = shared.expirationOf(token.expiresAt));
    if (token.kind !== 'trigger' || token.appId === null) {
      shared.countAuthFailure('insufficient_scope');
      return shared.sendError(
        res,
        403,
        'insufficient_scope',
        `token ${token.id} is an admin token; triggering a pipeline needs a trigger token (mm_tok_…) of the pipeline's app`,
        { 'WWW-Authenticate': CHALLENGE_INSUFFICIENT_SCOPE, [EXPIRATION_HEADER]: expiration },
        started,
        token.id,
        null,
      );
    }
    // A door learns the pipeline from the body: its scope is checked then (onCall).
    if (controls !== null && shared.door === null && !controls.allowsPipeline(this.slug)) return this.refuseScope(controls);
    this.pipelineFound = auth.pipeline;
    if (token.rateLimit === null) return shared.door === null ? this.findPipeline() : this.admitCall();
    let retryAfter: MaybePromise<number>;
    try {
      retryAfter = shared.services.store.rateLimits.take(token.id, token.rateLimit, shared.clock.now());
    } catch (error) {
      return this.unavailable(error);
    }
    if (isPromise(retryAfter)) {
      retryAfter.then(
        (seconds) => this.afterRateLimit(seconds),
        (error: unknown) => this.unavailable(error),
      );
    } else this.afterRateLimit(retryAfter);
  }

  private afterRateLimit(retryAfter: number): void {
    const { shared, token } = this;
    if (retryAfter === 0) return shared.door === null ? this.findPipeline() : this.admitCall();
    shared.sendError(
      this.res,
      429,
      'rate_limited',
      `token ${token.id} is limited to ${token.rateLimit} requests per minute; retry in ${retryAfter} s`,
      { 'Retry-After': String(retryAfter), [EXPIRATION_HEADER]: this.expiration },
      this.started,
      token.id,
      null,
    );
  }

  /** The pipeline, from the verification's read (or read apart when an injected verify fetched none). */
  private findPipeline(): void {
    if (this.pipelineFound !== undefined) return this.admitPipeline(this.pipelineFound);
    const { shared, token } = this;
    let found: MaybePromise<{ kind: string; config: string } | undefined>;
    try {
      // A door reads its pipeline after the body: as of the verification when both came in one turn.
      const asOfVerify = this.verifiedTurn !== -1 && this.body?.endTurn === this.verifiedTurn;
      found = this.slug.length > 0 && this.slug.length <= 63 ? shared.services.store.hot.pipeline(token.appId!, this.slug, asOfVerify) : undefined;
    } catch (error) {
      return this.unavailable(error);
    }
    if (isPromise(found)) {
      found.then(
        (row) => this.admitPipeline(row ? { kind: row.kind as PipelineKind, config: row.config } : null),
        (error: unknown) => this.unavailable(error),
      );
    } else this.admitPipeline(found ? { kind: found.kind as PipelineKind, config: found.config } : null);
  }

  /** 403 ip_not_allowed: the token's allow-list does not hold the client address (nothing else is said about the token). */
  private refuseAddress(address: string): void {
    const { shared, token } = this;
    shared.countAuthFailure('ip_not_allowed');
    const where = address === '' ? 'an address that could not be determined' : address;
    shared.sendError(
      this.res,
      403,
      'ip_not_allowed',
      `token ${token.id} may not be used from ${where}: its allowed_ips do not include it; use it from an allowed network, or create a token for this one`,
      null,
      this.started,
      token.id,
      null,
    );
  }

  /** 403 insufficient_scope naming the pipeline asked for (RFC 6750 `scope`): the token's scope does not include it. */
  private refuseScope(controls: CompiledControls): void {
    const { shared, token, slug } = this;
    shared.countAuthFailure('insufficient_scope');
    const valid = SLUG.test(slug);
    const allowed = [...controls.pipelines!].map((p) => `"${p}"`).join(', ');
    shared.sendError(
      this.res,
      403,
      'insufficient_scope',
      `token ${token.id} may trigger only ${allowed} of app "${token.app}"; ${valid ? `"${slug}"` : 'that pipeline'} is outside its scope (a token's scope is fixed: create a token for that pipeline)`,
      { 'WWW-Authenticate': valid ? scopeChallenge(`pipeline:${slug}`) : CHALLENGE_INSUFFICIENT_SCOPE, [EXPIRATION_HEADER]: this.expiration },
      this.started,
      token.id,
      valid ? slug : null,
    );
  }

  private admitPipeline(pipeline: PipelineTarget | null): void {
    const { shared, res, started, token, slug } = this;
    if (shared.door !== null) return this.admitDoorPipeline(pipeline);
    const expiration = this.expiration;
    if (this.runHeaders !== undefined) {
      const check = checkRunHeaders(this.runHeaders);
      if (!check.ok) return shared.sendError(res, 400, 'invalid_request', check.message, { [EXPIRATION_HEADER]: expiration }, started, token.id, null);
      this.background = check.background;
      // An EventSource reconnect: never a new run (and the pipeline may have changed or gone since).
      // Its body is not needed: drained, so that a long resumed stream is not a request still arriving (408).
      if (check.after !== undefined) {
        this.req.resume();
        return reconnect(this.resumeContext(), this.runHeaders, check.after);
      }
    }
    if (pipeline === null) {
      const shown = SLUG.test(slug) ? `"${slug}" ` : '';
      return shared.sendError(
        res,
        404,
        'pipeline_not_found',
        `pipeline ${shown}does not exist in app "${token.app}"; list them with \`mechamental pipelines list --app ${token.app}\``,
        { [EXPIRATION_HEADER]: expiration },
        started,
        token.id,
        null,
      );
    }
    this.target = pipeline;
    this.readBody(slug, pipeline.kind === 'command');
  }

  /**
   * The checks before any body, the trigger's and a door's: the Content-Type, the declared length
   * and a run slot of the token (and a child slot for a command pipeline); then the body is read.
   */
  private readBody(slug: string | null, command: boolean): void {
    const { shared, res, started, token } = this;
    const expiration = this.expiration;
    if (!isJsonType(this.contentType)) {
      return shared.sendError(res, 415, 'unsupported_media_type', 'the body must be JSON: send "Content-Type: application/json"', { [EXPIRATION_HEADER]: expiration, 'Accept-Post': 'application/json' }, started, token.id, slug);
    }
    if (this.contentLength !== undefined && Number(this.contentLength) > shared.maxBodyBytes) return this.tooLarge();
    if (!shared.admission.takeRun(token.id)) {
      return shared.sendError(
        res,
        429,
        'too_many_runs',
        `token ${token.id} already has ${shared.admission.maxRunsPerToken} runs in progress (MM_MAX_RUNS_PER_TOKEN); wait for one to end`,
        { 'Retry-After': '1', [EXPIRATION_HEADER]: expiration },
        started,
        token.id,
        slug,
      );
    }
    this.holdsRun = true;
    if (command && !this.takeChild(expiration)) return;
    shared.gate.activeRuns++;
    this.res.once('close', this.release);
    continueIfExpected(this.req, this.res);
    this.body = new BodyReader(this.req, shared.maxBodyBytes, (body) => this.onBody(body), shared.recheck);
  }

  /**
   * A door's phase 2b (before its body): the run headers, the Content-Type, the declared length and
   * a run slot of the token — what the trigger checks after the pipeline, which a door learns from
   * the body. A reconnect (Last-Event-ID) is not a door's: its streams resume at /v1/runs/:id/events.
   */
  private admitCall(): void {
    const { shared, res, started, token } = this;
    const expiration = this.expiration;
    if (this.runHeaders !== undefined) {
      const check = checkRunHeaders(this.runHeaders);
      if (!check.ok) return shared.sendError(res, 400, 'invalid_request', check.message, { [EXPIRATION_HEADER]: expiration }, started, token.id, null);
      if (check.after !== undefined) {
        return shared.sendError(
          res,
          400,
          'invalid_request',
          `Last-Event-ID is not accepted on ${shared.door!.route}; resume a run's stream with GET /v1/runs/<run id>/events (the run id is the completion's id and the Mechamental-Run-Id header)`,
          { [EXPIRATION_HEADER]: expiration },
          started,
          token.id,
          null,
        );
      }
      this.background = check.background;
    }
    this.readBody(null, false);
  }

  /** A door's phase 3: its call read from the body, then the pipeline's scope and the pipeline itself. */
  private onCall(body: Buffer): void {
    const { shared, res, started, token } = this;
    const call = shared.door!.readCall(body);
    if (!call.ok) return shared.sendError(res, 400, call.code, call.message, { [EXPIRATION_HEADER]: this.expiration }, started, token.id, null);
    this.slug = call.slug;
    this.input = call.input;
    this.stream = call.stream;
    if (this.runHeaders?.idempotencyKey !== undefined) this.rawBody = body;
    const controls = shared.controls.forToken(token.id, token.pipelines, token.allowedIps);
    if (controls !== null && !controls.allowsPipeline(call.slug)) return this.refuseScope(controls);
    this.findPipeline();
  }

  /** A door's pipeline: 404 for one its app does not have, a child slot for a command; then the re-check and the run. */
  private admitDoorPipeline(pipeline: PipelineTarget | null): void {
    const { shared, res, started, token, slug } = this;
    const expiration = this.expiration;
    if (pipeline === null) {
      const shown = SLUG.test(slug) ? `"${slug}" ` : '';
      return shared.sendError(
        res,
        404,
        'pipeline_not_found',
        `model ${shown}is not a pipeline of app "${token.app}"; GET /v1/models lists the ones this token may call`,
        { [EXPIRATION_HEADER]: expiration },
        started,
        token.id,
        null,
      );
    }
    this.target = pipeline;
    if (pipeline.kind === 'command' && !this.takeChild(expiration)) return;
    this.recheck();
  }

  /**
   * A `command` pipeline's child slot (MM_MAX_CHILDREN), after the run slot: false when none is free,
   * the run slot given back and 503 busy answered.
   */
  private takeChild(expiration: string): boolean {
    const { shared, token, slug } = this;
    if (shared.admission.takeChild()) {
      this.holdsChild = true;
      return true;
    }
    this.release();
    shared.sendError(
      this.res,
      503,
      'busy',
      `${shared.admission.maxChildren} command pipelines are running, the most this server runs at once (MM_MAX_CHILDREN); retry shortly`,
      { 'Retry-After': '1', [EXPIRATION_HEADER]: expiration },
      this.started,
      token!.id,
      slug,
    );
    return false;
  }

  /** Gives back the run (and child) slot; once, whenever the answer ends. */
  private readonly release = (): void => {
    if (this.holdsRun) {
      this.holdsRun = false;
      this.shared.admission.releaseRun(this.token.id);
      this.shared.gate.activeRuns--;
    }
    if (this.holdsChild) {
      this.holdsChild = false;
      this.shared.admission.releaseChild();
    }
  };

  private tooLarge(): void {
    this.shared.sendError(
      this.res,
      413,
      'payload_too_large',
      `the body is larger than the limit of ${this.shared.maxBodyBytes} bytes (MM_MAX_BODY)`,
      { [EXPIRATION_HEADER]: this.expiration, Connection: 'close' },
      this.started,
      this.token.id,
      this.slug,
    );
  }

  /** Phase 3: the body, parsed; then the re-check when the body came in a later turn. */
  private onBody(body: BodyOutcome): void {
    const { shared, res, started, token, slug } = this;
    if (body === 'aborted') return shared.logRequest(started, 499, token.id, slug, 'client_gone');
    if (body === 'too_large') return this.tooLarge();
    if (shared.door !== null) return this.onCall(body);
    // Not JSON, not an object, or nested deeper than 64 levels: 400, judged without recursion.
    const parsed = parseJsonObject(body);
    if (!parsed.ok) return shared.sendError(res, 400, 'invalid_json', parsed.message, { [EXPIRATION_HEADER]: this.expiration }, started, token.id, slug);
    this.input = parsed.value;
    if (this.runHeaders?.idempotencyKey !== undefined) this.rawBody = body;
    this.recheck();
  }

  /** Phase 4 (before the run): the token again, when the body came in a later turn than its verification. */
  private recheck(): void {
    const { shared, token } = this;
    if (this.body!.endTurn === this.verifiedTurn) return this.start(); // also when the re-check is off: both stay -1
    let liveness: MaybePromise<{ state: TokenLiveness; expiresAt: number }>;
    try {
      liveness = shared.tokens.liveness(token.id);
    } catch (error) {
      return this.unavailable(error);
    }
    if (isPromise(liveness)) {
      liveness.then(
        (state) => this.afterRecheck(state),
        (error: unknown) => this.unavailable(error),
      );
    } else this.afterRecheck(liveness);
  }

  /** Phase 4: the token as it is now, right before the run. */
  private afterRecheck(live: { state: TokenLiveness; expiresAt: number }): void {
    if (live.state === 'active') {
      this.token.expiresAt = live.expiresAt;
      this.expiration = this.shared.expirationOf(live.expiresAt);
      return this.start();
    }
    const revoked = live.state === 'revoked';
    this.shared.countAuthFailure(revoked ? 'revoked' : 'expired');
    const message = revoked ? `token ${this.token.id} was revoked while this request was being received` : `token ${this.token.id} expired at ${formatTime(live.expiresAt)}`;
    this.shared.sendError(
      this.res,
      401,
      revoked ? 'token_revoked' : 'token_expired',
      message,
      { 'WWW-Authenticate': invalidTokenChallenge(message) },
      this.started,
      this.token.id,
      this.slug,
    );
  }

  /** Phase 5: the run (with an Idempotency-Key, once the key is won). */
  private start(): void {
    // The client left while the token was re-checked: its slot is given back already.
    if (!this.holdsRun) return this.shared.logRequest(this.started, 499, this.token.id, this.slug, 'client_gone');
    if (this.runHeaders?.idempotencyKey !== undefined) return this.startIdempotent(this.runHeaders.idempotencyKey);
    const { shared, token, slug } = this;
    this.run(shared.keepRuns ? shared.runs.create(token.id, slug, this.background) : new Run(newRunId(), token.id, slug, shared.clock.now(), this.background, null));
  }

  private run(run: Run): void {
    const { shared, res, token, slug } = this;
    shared.usage.count(token.id, ACCEPTED);
    // From here the slots follow the run (a background run keeps them after its client left).
    res.removeListener('close', this.release);
    const state: RunState = {
      streams: shared.streams,
      metrics: shared.metrics,
      logger: shared.logger,
      run,
      started: this.started,
      tokenId: token.id,
      expiresAt: token.expiresAt,
      expiration: this.expiration,
      slug,
      kind: this.target.kind,
      config: shared.parseConfig(this.target.config),
      input: this.input!,
      retryMs: shared.retryMs,
    };
    try {
      executeRun(state, this.release);
      if (shared.door !== null) shared.door.answerRun(res, state, this.stream, shared.sendJson, shared.logRequest);
      else if (prefersEventStream(this.accept)) streamRun(res, state, shared.logRequest);
      else jsonRun(res, state, shared.sendJson, shared.logRequest);
    } catch (error) {
      this.unexpected(error);
    }
  }

  /** Idempotency-Key: the first request with it runs; the others get its answer (resume.ts). */
  private startIdempotent(key: string): void {
    const { shared, token, slug } = this;
    const run = shared.runs.reserve(token.id, slug, this.background, newRunId());
    const fingerprint = fingerprintOf(slug, this.rawBody!);
    this.rawBody = undefined;
    shared.runs.claimKey({ tokenId: token.id, key, fingerprint, pipeline: slug, runId: run.id }).then(
      (won) => {
        if (won === true) {
          shared.runs.confirm(run);
          storeAnswerWhenEnded(shared.runs, shared.logger, key, run);
          if (!this.holdsRun) {
            // Gone while the key was claimed: nothing ran, so the key is given back with the run.
            run.stop('client_gone', 'the client went away before the run started');
            return shared.logRequest(this.started, 499, token.id, slug, 'client_gone');
          }
          return this.run(run);
        }
        shared.runs.discard(run);
        if (shared.door !== null) shared.door.answerHeld(this.resumeContext(), won, fingerprint, this.stream);
        else answerHeldKey(this.resumeContext(), won, fingerprint, prefersEventStream(this.accept));
      },
      (error: unknown) => {
        shared.runs.discard(run);
        this.unavailable(error);
      },
    )
      .catch((error: unknown) => this.unexpected(error));
  }

  /** What resume.ts needs to answer for this request (made only on those paths). */
  private resumeContext(): ResumeContext {
    const { shared, res, started, token, slug } = this;
    return {
      res,
      tokenId: token.id,
      expiresAt: token.expiresAt,
      expiration: this.expiration,
      slug,
      runs: shared.runs,
      streams: shared.streams,
      logger: shared.logger,
      retryMs: shared.retryMs,
      sendJson: (status, body, headers) => shared.sendJson(res, status, body, headers, started, token.id, slug),
      sendError: (status, code, message, headers) => shared.sendError(res, status, code, message, { [EXPIRATION_HEADER]: this.expiration, ...headers }, started, token.id, slug),
      logRequest: (status, outcome) => shared.logRequest(started, status, token.id, slug, outcome),
      unavailable: (error) => this.unavailable(error),
      unexpected: (error) => this.unexpected(error),
    };
  }

  private unexpected(error: unknown): void {
    this.shared.logger.error({ err: error, route: this.shared.door?.route ?? TRIGGER_ROUTE }, 'trigger run failed unexpectedly');
    if (!this.res.headersSent) {
      const failure = toHttpError(error);
      this.shared.sendError(this.res, failure.status, failure.code, failure.message, null, this.started, this.token?.id ?? null, this.slug);
    } else this.res.destroy();
  }

  /** The store failed: 503 with Retry-After, never a 500 and never an accepted request that could not be checked. */
  private unavailable(error: unknown): void {
    const failure = toHttpError(error);
    if (failure.code !== 'unavailable') {
      this.shared.logger.error({ err: error, route: this.shared.door?.route ?? TRIGGER_ROUTE }, 'trigger request failed unexpectedly');
    } else this.shared.logger.warn({ err: error, route: this.shared.door?.route ?? TRIGGER_ROUTE }, 'the database did not answer');
    this.shared.sendError(
      this.res,
      503,
      'unavailable',
      failure.code === 'unavailable' ? failure.message : 'the database did not answer; try again shortly',
      { 'Retry-After': UNAVAILABLE_RETRY_AFTER },
      this.started,
      this.token?.id ?? null,
      this.slug,
    );
  }
}

/**
 * Builds the trigger handler (see TriggerRequest for the phases). Uses are noted in the
 * UsageRecorder (batched, no write per request).
 */
export function createTriggerHandler(services: Services, options: TriggerOptions = {}): TriggerHandler {
  const verify: Verify = options.verify ?? ((value, pipeline) => services.tokens.verify(value, pipeline));
  const logger = options.logger ?? createLogger({ level: services.config.logLevel });
  const metrics = options.metrics ?? new Metrics({ defaultMetrics: false });
  const streams = options.streams ?? new StreamRegistry(services, { metrics, logger });
  if (!options.streams) streams.start();
  const shared = new TriggerShared(
    services,
    verify,
    logger,
    metrics,
    streams,
    options.maxBodyBytes ?? services.config.maxBodyBytes,
    options.sseRetryMs ?? SSE_RETRY_MS,
    options.keepRuns ?? true,
    options.recheck ?? true,
  );

  const handler = ((req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url;
    if (url === undefined || req.method !== 'POST' || !url.startsWith(TRIGGER_PREFIX)) return false;
    const started = performance.now();
    if (shared.gate.closing) {
      shared.sendError(res, 503, 'shutting_down', 'the server is shutting down; retry shortly', { Connection: 'close' }, started, null, null);
      return true;
    }
    const q = url.indexOf('?');
    const slug = q === -1 ? url.slice(TRIGGER_PREFIX.length) : url.slice(TRIGGER_PREFIX.length, q);
    new TriggerRequest(shared, req, res, url, slug, started).authenticate();
    return true;
  }) as TriggerHandler;

  Object.defineProperties(handler, {
    streams: { value: streams },
    beginShutdown: {
      value: () => {
        shared.gate.closing = true;
      },
    },
    activeRuns: { get: () => shared.gate.activeRuns },
    core: { value: shared },
  });
  return handler;
}
