// The TypeScript SDK against a live Malha (sdk/run-tests starts it and sets
// MALHA_URL); every call goes through the SDK.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import type { Interceptor } from "@connectrpc/connect";

import { Code, connect, MalhaError, type MalhaClient, type Options } from "../src/index.js";
import { IdentityService, SubjectKind } from "../gen/malha/identity/v1/identity_pb.js";
import { InventoryService, MovementKind } from "../gen/malha/inventory/v1/inventory_pb.js";
import { OrdersService, OrderStatus } from "../gen/malha/orders/v1/orders_pb.js";
import { PaymentsService } from "../gen/malha/payments/v1/payments_pb.js";
import { ProjectsService } from "../gen/malha/projects/v1/projects_pb.js";

const url = process.env.MALHA_URL ?? "";
const adminLogin = { username: process.env.MALHA_ADMIN_USERNAME ?? "", password: process.env.MALHA_ADMIN_PASSWORD ?? "" };
const opened: MalhaClient[] = [];
after(() => opened.forEach((client) => client.close()));

async function dial(options: Options = {}): Promise<MalhaClient> {
  assert.ok(url, "MALHA_URL is not set: run these tests with sdk/run-tests, which starts Malha");
  const client = await connect(url, options);
  opened.push(client);
  return client;
}

const admin = () => dial({ credentials: adminLogin });

async function rejectsWith(promise: Promise<unknown>, code: Code): Promise<MalhaError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MalhaError, `want MalhaError, got ${error}`);
    assert.equal(error.code, code, `want ${Code[code]}, got ${error.message}`);
    return error;
  }
  assert.fail(`want ${Code[code]}, the call succeeded`);
}

async function firstDish(client: MalhaClient): Promise<string> {
  const menu = await client.service(OrdersService).getMenu({});
  const dish = menu.sections[0]?.products[0];
  assert.ok(dish, "the demo menu has a product");
  return dish.id;
}

test("logs in, refreshes before expiry, and forged tokens are refused", async () => {
  const client = await admin();
  const identity = client.service(IdentityService);
  const first = await client.accessToken();
  assert.equal((await identity.getMe({})).claims?.username, adminLogin.username);

  // Tokens live 6 s in the test server: past 4 s the next calls refresh, and
  // the concurrent ones share one refresh (a second use of the rotating
  // refresh token would revoke the session).
  await sleep(4500);
  await Promise.all(Array.from({ length: 8 }, () => identity.getMe({})));
  const second = await client.accessToken();
  assert.ok(second && second !== first, "the access token was refreshed before it expired");

  for (const token of [second.slice(0, -4) + "AAAA", "not-a-jwt"]) {
    const stolen = await dial({ credentials: { tokens: { accessToken: token, expiresIn: 3600n } } });
    await rejectsWith(stolen.service(IdentityService).getMe({}), Code.Unauthenticated);
  }
  await rejectsWith(connect(url, { credentials: { username: "admin", password: "wrong password" } }), Code.Unauthenticated);
});

test("creating a project takes its materials from stock once", async () => {
  const client = await admin();
  const inventory = client.service(InventoryService);
  const { product } = await inventory.createProduct({
    product: { sku: `MDF-ts-${Date.now()}`, name: "MDF 18mm", unit: "sheet" },
    requestId: randomUUID(),
  });
  assert.ok(product);
  await inventory.recordMovement({
    productId: product.id, kind: MovementKind.RECEIPT, quantity: 10n, reason: "delivery", requestId: randomUUID(),
  });
  await client.service(ProjectsService).createProject({
    project: {
      name: "Cozinha planejada", client: "Dona Maria",
      materials: [{ productId: product.id, productName: product.name, quantity: 3n }],
    },
    requestId: randomUUID(),
  });

  // The event flow is asynchronous: wait for the drop, then make sure it
  // stays at one drop.
  const quantity = async () => (await inventory.getProduct({ productId: product.id })).product?.quantityOnHand;
  const deadline = Date.now() + 20_000;
  while ((await quantity()) !== 7n) {
    assert.ok(Date.now() < deadline, `the stock is ${await quantity()}, want 7 after the project took 3 of 10`);
    await sleep(200);
  }
  await sleep(1000);
  assert.equal(await quantity(), 7n, "the materials are taken once");
});

test("an anonymous customer watches the order get paid and cooked", async () => {
  const staff = await admin();
  const anonymous = await (await dial()).service(IdentityService).createAnonymousCustomer({ requestId: randomUUID() });
  assert.ok(anonymous.tokens);
  const customer = await dial({ credentials: { tokens: anonymous.tokens } });
  const orders = customer.service(OrdersService);
  const placed = await orders.createOrder({ items: [{ productId: await firstDish(customer), quantity: 2 }], requestId: randomUUID() });
  const orderId = placed.order?.id ?? "";

  const seen: OrderStatus[] = [];
  const watching = (async () => {
    let first = true;
    for await (const message of orders.watchOrder({ orderId }, { timeoutMs: 30_000 })) {
      if (first) {
        first = false; // the order as it is now
        continue;
      }
      seen.push(message.change?.toStatus ?? OrderStatus.UNSPECIFIED);
    }
  })();
  const saw = async (count: number) => {
    const deadline = Date.now() + 10_000;
    while (seen.length < count) {
      assert.ok(Date.now() < deadline, `WatchOrder saw only ${seen.map((s) => OrderStatus[s])}`);
      await sleep(50);
    }
  };

  await sleep(300); // let the watch start before the first change
  await staff.service(PaymentsService).confirmPayment({ paymentId: placed.payment?.paymentId ?? "", note: "seen in the bank app" });
  await saw(1);
  const kitchen = staff.service(OrdersService);
  for (const [index, status] of [OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.DELIVERED].entries()) {
    await kitchen.updateOrderStatus({ orderId, status });
    await saw(index + 2);
  }
  await watching; // DELIVERED is final: the stream ends
  assert.deepEqual(seen, [OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.DELIVERED]);
});

test("an invalid request names its fields in the typed error", async () => {
  const client = await admin();
  const error = await rejectsWith(
    client.service(InventoryService).createProduct({ product: { sku: "", name: "", unit: "sheet" }, requestId: randomUUID() }),
    Code.InvalidArgument,
  );
  assert.deepEqual(error.fields, ["product.sku", "product.name"]);
  assert.ok(error.fieldViolations[0]?.description, "a violation comes with its description");
});

test("calls honour their deadline", async () => {
  // The default deadline covers the login inside connect too.
  await rejectsWith(connect(url, { credentials: adminLogin, deadlineMs: 1 }), Code.DeadlineExceeded);
  // A cached read can answer within a millisecond: the slow call is a login,
  // whose argon2id hash alone takes tens of milliseconds.
  const hurried = await dial({ deadlineMs: 1 });
  await rejectsWith(hurried.service(IdentityService).login(adminLogin), Code.DeadlineExceeded);
  // A call's own timeout wins over the default one.
  const patient = await dial();
  await rejectsWith(patient.service(IdentityService).login(adminLogin, { timeoutMs: 1 }), Code.DeadlineExceeded);

  // A stream lasts as long as its own timeout: a watch with 300 ms on an
  // order that does not change ends with DEADLINE_EXCEEDED.
  const client = await admin();
  const orders = client.service(OrdersService);
  const placed = await orders.createOrder({ items: [{ productId: await firstDish(client), quantity: 1 }], requestId: randomUUID() });
  const started = Date.now();
  await rejectsWith(
    (async () => {
      for await (const _ of orders.watchOrder({ orderId: placed.order?.id ?? "" }, { timeoutMs: 300 })) {
        // the first message is the order as it is
      }
    })(),
    Code.DeadlineExceeded,
  );
  assert.ok(Date.now() - started < 5000, "the watch ended near its 300 ms deadline");
});

test("only idempotent calls are retried when unavailable", async () => {
  // A port nobody listens on: every attempt is UNAVAILABLE.
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();

  let attempts = 0;
  const count: Interceptor = (next) => (request) => {
    attempts++;
    return next(request);
  };
  const client = await connect(`http://127.0.0.1:${port}`, { maxAttempts: 3, interceptors: [count] });
  opened.push(client);
  const orders = client.service(OrdersService);
  const cases: [string, () => Promise<unknown>, number][] = [
    ["a read", () => orders.getMenu({}), 3],
    ["a create with request_id", () => orders.createOrder({ requestId: randomUUID() }), 3],
    ["a create without request_id", () => orders.createOrder({}), 1],
    ["a state change", () => client.service(PaymentsService).confirmPayment({ paymentId: "p" }), 1],
  ];
  for (const [name, call, tries] of cases) {
    attempts = 0;
    await rejectsWith(call(), Code.Unavailable);
    assert.equal(attempts, tries, `${name}: ${attempts} attempts, want ${tries}`);
  }
});

test("a service account logs in with client credentials", async () => {
  const created = await (await admin()).service(IdentityService).createServiceAccount({
    name: `robot-ts-${Date.now()}`, roles: ["service"], requestId: randomUUID(),
  });
  const robot = await dial({ credentials: { clientId: created.clientId, clientSecret: created.clientSecret } });
  assert.equal((await robot.service(IdentityService).getMe({})).claims?.subjectKind, SubjectKind.SERVICE);
  await rejectsWith(connect(url, { credentials: { clientId: created.clientId, clientSecret: "wrong secret" } }), Code.Unauthenticated);
});
