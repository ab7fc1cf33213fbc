// The Malha SDK for Node: the layer of client.ts over gRPC on HTTP/2
// (@connectrpc/connect-node). Browsers import "@malha/sdk/web".
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

import { connectWith, type MalhaClient, type Options } from "./client.js";

export * from "./client.js";

/** Connects to Malha at baseUrl ("http://host:port" or "https://host") and, with credentials, logs in first. */
export function connect(baseUrl: string, options: Options = {}): Promise<MalhaClient> {
  // One HTTP/2 connection for the calls and the session's own logins.
  const sessions = new Http2SessionManager(baseUrl);
  return connectWith(
    (interceptors) => createGrpcTransport({ baseUrl, sessionManager: sessions, interceptors }),
    options,
    () => sessions.abort(),
  );
}
