// The Malha SDK for browsers: the layer of client.ts over gRPC-Web
// (@connectrpc/connect-web), which Malha's gRPC port also serves.
import { createGrpcWebTransport } from "@connectrpc/connect-web";

import { connectWith, type MalhaClient, type Options } from "./client.js";

export * from "./client.js";

/** Connects to Malha's gRPC port at baseUrl over gRPC-Web and, with credentials, logs in first. */
export function connect(baseUrl: string, options: Options = {}): Promise<MalhaClient> {
  return connectWith((interceptors) => createGrpcWebTransport({ baseUrl, interceptors }), options);
}
