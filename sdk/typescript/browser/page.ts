// A page (bundled by test/browser.test.ts with esbuild) that uses the SDK
// from a real browser over gRPC-Web: logs in, reads the menu, and reads the
// field violations of an invalid request, then posts what it saw back to
// the test's server (POST /result).
import { connect, MalhaError } from "../src/web.js";
import { InventoryService } from "../gen/malha/inventory/v1/inventory_pb.js";
import { OrdersService } from "../gen/malha/orders/v1/orders_pb.js";

const query = new URLSearchParams(location.search);

async function run(): Promise<object> {
  const client = await connect(query.get("url") ?? "", {
    credentials: { username: query.get("username") ?? "", password: query.get("password") ?? "" },
  });
  const menu = await client.service(OrdersService).getMenu({});
  try {
    await client.service(InventoryService).createProduct({ product: { sku: "", name: "", unit: "sheet" }, requestId: crypto.randomUUID() });
    return { sections: menu.sections.length, fields: "the invalid product was accepted" };
  } catch (error) {
    return { sections: menu.sections.length, fields: error instanceof MalhaError ? error.fields : String(error) };
  }
}

const report = (seen: object) => fetch("/result", { method: "POST", body: JSON.stringify(seen) });
run().then(report, (error) => report({ error: String(error) }));
