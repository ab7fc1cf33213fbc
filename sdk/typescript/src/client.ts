// The thin hand-written layer over the generated Malha clients in gen/, the
// same in Node (index.ts: gRPC over HTTP/2) and browsers (web.ts: gRPC-Web):
// one connection from a base URL that logs in, refreshes its access token
// before it expires, puts a default deadline on every unary call, retries
// UNAVAILABLE on idempotent calls, and throws MalhaError with the
// google.rpc details. Any service of the contract is used through
// `client.service(XService)`, so a new service needs no change here.
import type { DescMessage, DescMethod, DescService, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client, type Interceptor, type Transport } from "@connectrpc/connect";

import { BadRequestSchema, ErrorInfoSchema, type ErrorInfo } from "../gen/google/rpc/error_details_pb.js";
import { IdentityService, type TokenPair } from "../gen/malha/identity/v1/identity_pb.js";

export { Code };

/** How a client gets its access token. */
export type Credentials =
  | { username: string; password: string }
  | { clientId: string; clientSecret: string }
  /** A pair obtained elsewhere (e.g. CreateAnonymousCustomer), refreshed while it has a refresh token. */
  | { tokens: Pick<TokenPair, "accessToken" | "expiresIn"> & Partial<Pick<TokenPair, "refreshToken">> };

export interface Options {
  /** Who the client calls as; none calls anonymously (public RPCs only). */
  credentials?: Credentials;
  /** Deadline of a unary call that sets no timeoutMs (default 10 000). Streams get none. */
  deadlineMs?: number;
  /** Attempts of an idempotent call answered UNAVAILABLE, the first included (default 4). */
  maxAttempts?: number;
  /** Your own Connect interceptors; they see every attempt, with its token. */
  interceptors?: Interceptor[];
}

/** One violated request field (google.rpc.BadRequest). */
export interface FieldViolation {
  field: string;
  description: string;
}

/** Every error a Malha call throws: its code and message with the google.rpc details. */
export class MalhaError extends ConnectError {
  /** What was wrong with the request (INVALID_ARGUMENT), field by field. */
  readonly fieldViolations: FieldViolation[];
  /** The machine-readable reason, when the server gave one. */
  readonly errorInfo: ErrorInfo | undefined;

  constructor(cause: ConnectError) {
    super(cause.rawMessage, cause.code, cause.metadata, undefined, cause);
    this.name = "MalhaError";
    this.details = cause.details;
    this.fieldViolations = cause
      .findDetails(BadRequestSchema)
      .flatMap((detail) => detail.fieldViolations.map(({ field, description }) => ({ field, description })));
    this.errorInfo = cause.findDetails(ErrorInfoSchema)[0];
  }

  /** The names of the violated fields, in the server's order. */
  get fields(): string[] {
    return this.fieldViolations.map((violation) => violation.field);
  }

  // ConnectError's own check accepts any ConnectError; a MalhaError is one
  // made here, with its details read.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && MalhaError.prototype.isPrototypeOf(value);
  }

  static from(error: unknown): MalhaError {
    return error instanceof MalhaError ? error : new MalhaError(ConnectError.from(error));
  }
}

/** Makes the transport of a client: gRPC in Node, gRPC-Web in browsers. */
export type TransportFactory = (interceptors: Interceptor[]) => Transport;

/** A client over `transports`, logged in first when it has credentials. */
export async function connectWith(transports: TransportFactory, options: Options, close = () => {}): Promise<MalhaClient> {
  const client = new MalhaClient(transports, options, close);
  if (options.credentials) await client.accessToken();
  return client;
}

export class MalhaClient {
  private readonly transport: Transport;
  private readonly session: Session | undefined;
  private readonly deadlineMs: number;
  private readonly maxAttempts: number;

  constructor(
    transports: TransportFactory,
    options: Options = {},
    private readonly onClose = () => {},
  ) {
    this.deadlineMs = options.deadlineMs ?? 10_000;
    this.maxAttempts = options.maxAttempts ?? 4;
    // The session's own logins are public: they go without the token.
    const plain = transports([]);
    if (options.credentials) {
      this.session = new Session(options.credentials, this.wrap(IdentityService, plain));
    }
    const session = this.session;
    const withToken: Interceptor = (next) => async (request) => {
      if (session) request.header.set("authorization", `Bearer ${await session.token()}`);
      return next(request);
    };
    this.transport = transports([withToken, ...(options.interceptors ?? [])]);
  }

  /** A client of one generated service, e.g. `client.service(OrdersService)`. */
  service<S extends DescService>(service: S): Client<S> {
    return this.wrap(service, this.transport);
  }

  /** The token the next call will carry, refreshed first if it is about to expire. */
  async accessToken(): Promise<string | undefined> {
    return this.session?.token();
  }

  /** Closes the connection (Node: the HTTP/2 session). */
  close(): void {
    this.onClose();
  }

  private wrap<S extends DescService>(service: S, transport: Transport): Client<S> {
    const raw = createClient(service, transport) as unknown as Record<string, (...args: unknown[]) => unknown>;
    const wrapped: Record<string, unknown> = {};
    for (const method of service.methods) {
      const call = raw[method.localName];
      if (method.methodKind === "unary") {
        wrapped[method.localName] = (request: MessageInitShape<DescMessage>, options: CallOptions = {}) =>
          this.unary(method, () => call(request, { ...options, timeoutMs: options.timeoutMs ?? this.deadlineMs }), request);
      } else if (method.methodKind === "server_streaming") {
        wrapped[method.localName] = (request: unknown, options?: CallOptions) =>
          typedStream(call(request, options) as AsyncIterable<unknown>);
      } else {
        wrapped[method.localName] = call;
      }
    }
    return wrapped as Client<S>;
  }

  // Retries UNAVAILABLE (the server did not take the call) on idempotent
  // calls only, with exponential backoff and full jitter (AIP-194).
  private async unary(method: DescMethod, call: () => unknown, request: unknown): Promise<unknown> {
    let backoffMs = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const typed = MalhaError.from(error);
        if (typed.code !== Code.Unavailable || attempt >= this.maxAttempts || !idempotent(method, request)) throw typed;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * backoffMs + 1));
        backoffMs = Math.min(2 * backoffMs, 2_000);
      }
    }
  }
}

/** Reads (Get, List, Validate, Verify) and requests with a request_id, which the server de-duplicates. */
export function idempotent(method: DescMethod, request: unknown): boolean {
  if (/^(Get|List|Validate|Verify)/.test(method.name)) return true;
  const field = method.input.fields.find((candidate) => candidate.name === "request_id");
  const value = field && (request as Record<string, unknown> | undefined)?.[field.localName];
  return typeof value === "string" && value !== "";
}

async function* typedStream<T>(stream: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* stream;
  } catch (error) {
    throw MalhaError.from(error);
  }
}

// The current token. The pending promise makes the refresh single-flight:
// concurrent calls that find the token about to expire wait for one refresh
// instead of each spending the (rotating) refresh token.
class Session {
  private access = "";
  private refresh = "";
  private refreshAt = 0;
  private issued = false;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly credentials: Credentials,
    private readonly identity: Client<typeof IdentityService>,
  ) {}

  token(): Promise<string> {
    if (this.issued && Date.now() < this.refreshAt) return Promise.resolve(this.access);
    this.pending ??= this.renew().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async renew(): Promise<string> {
    const pair = await this.newPair();
    this.access = pair.accessToken;
    this.refresh = pair.refreshToken ?? "";
    this.issued = true;
    // Renew when a third of the token's life (at most 30 s) is left, so a
    // call never leaves with a token that expires on the way.
    const lifetimeMs = Number(pair.expiresIn) * 1000;
    this.refreshAt = Date.now() + lifetimeMs - Math.min(lifetimeMs / 3, 30_000);
    return this.access;
  }

  private async newPair(): Promise<Pick<TokenPair, "accessToken" | "expiresIn"> & Partial<Pick<TokenPair, "refreshToken">>> {
    if (this.issued && this.refresh) {
      try {
        return required((await this.identity.refreshToken({ refreshToken: this.refresh })).tokens);
      } catch (error) {
        // An expired or revoked refresh token: log in again below.
        if (MalhaError.from(error).code !== Code.Unauthenticated) throw error;
      }
    }
    const credentials = this.credentials;
    if ("tokens" in credentials) {
      if (this.issued) throw new MalhaError(new ConnectError("the access token expired and cannot be renewed", Code.Unauthenticated));
      return credentials.tokens;
    }
    if ("username" in credentials) {
      return required((await this.identity.login(credentials)).tokens);
    }
    return required((await this.identity.issueServiceToken(credentials)).tokens);
  }
}

function required(tokens: TokenPair | undefined): TokenPair {
  if (!tokens) throw new MalhaError(new ConnectError("the server sent no tokens", Code.Internal));
  return tokens;
}
