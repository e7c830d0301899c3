// In-test Azure Resource Manager endpoint (https), emulating the Microsoft.Network wire protocol the
// controller uses: route table routes (GET/PUT/DELETE one, list with nextLink paging), network
// interfaces (list per resource group, per scale set and per instance, GET, PUT of ipForwarding),
// long-running operations as ARM returns them (PUT 201/200 + Azure-AsyncOperation, DELETE 202 +
// Location + Azure-AsyncOperation, polled until "Succeeded"; the change lands when the operation
// ends), the api-version query parameter, bearer tokens, and ARM error bodies {"error":{code,message}}.
// Left out: route tables themselves (they exist by configuration), etags/If-Match, throttling headers.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import type { TestCertificate } from "./tls.ts";

export interface ArmRoute {
  addressPrefix: string;
  nextHopType: string;
  nextHopIpAddress?: string;
}

export interface ArmNic {
  resourceGroup: string;
  name: string;
  privateIp: string;
  enableIPForwarding: boolean;
  /** Set for a scale set instance's NIC. */
  scaleSet?: { name: string; instance: string };
}

export interface ArmRequest {
  method: string;
  path: string;
}

interface Operation {
  pollsLeft: number;
  apply: () => void;
  done: boolean;
}

const SUB = "([^/]+)";
const ROUTES = new RegExp(
  `^/subscriptions/${SUB}/resourceGroups/${SUB}/providers/Microsoft\\.Network/routeTables/${SUB}/routes(?:/${SUB})?$`,
  "i",
);
const NICS = new RegExp(
  `^/subscriptions/${SUB}/resourceGroups/${SUB}/providers/Microsoft\\.Network/networkInterfaces(?:/${SUB})?$`,
  "i",
);
const VMSS_NICS = new RegExp(
  `^/subscriptions/${SUB}/resourceGroups/${SUB}/providers/Microsoft\\.Compute/virtualMachineScaleSets/${SUB}(?:/virtualMachines/${SUB})?/networkInterfaces$`,
  "i",
);
const OPERATION = new RegExp(
  `^/subscriptions/${SUB}/providers/Microsoft\\.Network/locations/${SUB}/(operations|operationResults)/${SUB}$`,
  "i",
);

class ArmError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class FakeArm {
  /** Route tables by "subscription/resourceGroup/name" (lower case); only these exist. */
  readonly tables = new Map<string, Map<string, ArmRoute>>();
  readonly nics: ArmNic[] = [];
  readonly requests: ArmRequest[] = [];
  /** Polls an operation answers "InProgress" before it succeeds. */
  pollsPerOperation = 1;
  pageSize = 3;
  private readonly operations = new Map<string, Operation>();
  private readonly failures: Array<{ method: string; pattern: RegExp; status: number; code: string }> = [];
  private server: Server | undefined;
  private base = "";

  addTable(subscriptionId: string, resourceGroup: string, name: string): Map<string, ArmRoute> {
    const routes = new Map<string, ArmRoute>();
    this.tables.set(tableKey(subscriptionId, resourceGroup, name), routes);
    return routes;
  }

  /** The next request matching method and path pattern fails with this ARM error. */
  failNext(method: string, pattern: RegExp, status: number, code: string): void {
    this.failures.push({ method, pattern, status, code });
  }

  async start(certificate: TestCertificate): Promise<string> {
    this.server = createServer(certificate, (request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.base = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", this.base);
    const method = request.method ?? "GET";
    this.requests.push({ method, path: url.pathname });
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    try {
      if (!/^Bearer \S+/.test(request.headers.authorization ?? "")) {
        throw new ArmError(
          401,
          "AuthenticationFailed",
          "Authentication failed. The 'Authorization' header is missing.",
        );
      }
      if (!url.searchParams.get("api-version")) {
        throw new ArmError(
          400,
          "MissingApiVersionParameter",
          "The api-version query parameter (?api-version=) is required for all requests.",
        );
      }
      const failure = this.failures.findIndex((f) => f.method === method && f.pattern.test(url.pathname));
      if (failure >= 0) {
        const [f] = this.failures.splice(failure, 1);
        throw new ArmError(f!.status, f!.code, `injected failure for ${method} ${url.pathname}`);
      }
      const body =
        chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown) : undefined;
      this.route(method, url, body, response);
    } catch (error) {
      const armError =
        error instanceof ArmError
          ? error
          : new ArmError(500, "InternalServerError", (error as Error).message);
      send(response, armError.status, { error: { code: armError.code, message: armError.message } });
    }
  }

  private route(method: string, url: URL, body: unknown, response: ServerResponse): void {
    const path = url.pathname;
    let match: RegExpExecArray | null;
    if ((match = OPERATION.exec(path))) return this.operation(match[3]!, match[4]!, url, response);
    if ((match = ROUTES.exec(path))) {
      const [, sub, rg, table, name] = match;
      const routes = this.tables.get(tableKey(sub!, rg!, table!));
      if (!routes)
        throw new ArmError(
          404,
          "ResourceNotFound",
          `The Resource 'Microsoft.Network/routeTables/${table}' under resource group '${rg}' was not found.`,
        );
      const tableId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/routeTables/${table}`;
      if (!name) {
        if (method !== "GET") throw methodNotAllowed(method);
        const all = [...routes].map(([n, r]) => routeResource(tableId, n, r));
        return this.page(all, url, response);
      }
      return this.routeItem(method, routes, tableId, sub!, name, body, url, response);
    }
    if ((match = VMSS_NICS.exec(path))) {
      const [, sub, rg, scaleSet, instance] = match;
      const nics = this.nics.filter(
        (nic) =>
          sameText(nic.resourceGroup, rg!) &&
          nic.scaleSet?.name === scaleSet &&
          (instance === undefined || nic.scaleSet?.instance === instance),
      );
      return this.page(
        nics.map((nic) => nicResource(sub!, nic)),
        url,
        response,
      );
    }
    if ((match = NICS.exec(path))) {
      const [, sub, rg, name] = match;
      if (!name) {
        const nics = this.nics.filter((nic) => sameText(nic.resourceGroup, rg!) && !nic.scaleSet);
        return this.page(
          nics.map((nic) => nicResource(sub!, nic)),
          url,
          response,
        );
      }
      const nic = this.nics.find((n) => sameText(n.resourceGroup, rg!) && n.name === name && !n.scaleSet);
      if (!nic) throw new ArmError(404, "NotFound", `Resource ${path} not found.`);
      if (method === "GET") return send(response, 200, nicResource(sub!, nic));
      if (method !== "PUT") throw methodNotAllowed(method);
      const forwarding = (body as { properties?: { enableIPForwarding?: unknown } } | undefined)?.properties
        ?.enableIPForwarding;
      const id = this.startOperation(() => (nic.enableIPForwarding = forwarding === true));
      response.setHeader("Azure-AsyncOperation", this.operationUrl(sub!, "operations", id, url));
      response.setHeader("Retry-After", "0");
      return send(response, 200, {
        ...nicResource(sub!, nic),
        properties: { ...nicResource(sub!, nic).properties, provisioningState: "Updating" },
      });
    }
    throw new ArmError(404, "InvalidResourceType", `The resource type for ${path} could not be found.`);
  }

  private routeItem(
    method: string,
    routes: Map<string, ArmRoute>,
    tableId: string,
    sub: string,
    name: string,
    body: unknown,
    url: URL,
    response: ServerResponse,
  ): void {
    const existing = routes.get(name);
    if (method === "GET") {
      if (!existing) throw new ArmError(404, "NotFound", `Resource ${tableId}/routes/${name} not found.`);
      return send(response, 200, routeResource(tableId, name, existing));
    }
    if (method === "PUT") {
      const route = validRoute(body);
      const id = this.startOperation(() => routes.set(name, route));
      response.setHeader("Azure-AsyncOperation", this.operationUrl(sub, "operations", id, url));
      response.setHeader("Retry-After", "0");
      return send(response, existing ? 200 : 201, routeResource(tableId, name, route, "Updating"));
    }
    if (method === "DELETE") {
      if (!existing) return send(response, 204);
      const id = this.startOperation(() => routes.delete(name));
      response.setHeader("Azure-AsyncOperation", this.operationUrl(sub, "operations", id, url));
      response.setHeader("Location", this.operationUrl(sub, "operationResults", id, url));
      response.setHeader("Retry-After", "0");
      return send(response, 202);
    }
    throw methodNotAllowed(method);
  }

  private page(items: unknown[], url: URL, response: ServerResponse): void {
    const skip = Number(url.searchParams.get("$skiptoken") ?? "0");
    const value = items.slice(skip, skip + this.pageSize);
    const next = new URL(url);
    next.searchParams.set("$skiptoken", String(skip + this.pageSize));
    send(
      response,
      200,
      skip + this.pageSize < items.length ? { value, nextLink: next.toString() } : { value },
    );
  }

  private startOperation(apply: () => void): string {
    const id = randomUUID();
    this.operations.set(id, { pollsLeft: this.pollsPerOperation, apply, done: false });
    return id;
  }

  private operationUrl(sub: string, kind: string, id: string, url: URL): string {
    return `${this.base}/subscriptions/${sub}/providers/Microsoft.Network/locations/westeurope/${kind}/${id}?api-version=${url.searchParams.get("api-version")}`;
  }

  private operation(kind: string, id: string, url: URL, response: ServerResponse): void {
    const operation = this.operations.get(id);
    if (!operation) throw new ArmError(404, "OperationNotFound", `Operation ${id} not found.`);
    if (!operation.done) {
      if (operation.pollsLeft > 0) operation.pollsLeft--;
      else {
        operation.apply();
        operation.done = true;
      }
    }
    response.setHeader("Retry-After", "0");
    if (kind.toLowerCase() === "operationresults") {
      if (!operation.done) {
        response.setHeader("Location", url.toString());
        return send(response, 202);
      }
      return send(response, 204);
    }
    send(response, 200, { status: operation.done ? "Succeeded" : "InProgress" });
  }
}

function validRoute(body: unknown): ArmRoute {
  const properties = (body as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const { addressPrefix, nextHopType, nextHopIpAddress } = properties;
  if (typeof addressPrefix !== "string" || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(addressPrefix)) {
    throw new ArmError(
      400,
      "InvalidRequestFormat",
      `Route addressPrefix ${String(addressPrefix)} is invalid.`,
    );
  }
  if (typeof nextHopType !== "string")
    throw new ArmError(400, "InvalidRequestFormat", "nextHopType is required.");
  if (nextHopType === "VirtualAppliance" && typeof nextHopIpAddress !== "string") {
    throw new ArmError(
      400,
      "RouteNextHopIpAddressMissing",
      "A VirtualAppliance route needs nextHopIpAddress.",
    );
  }
  return {
    addressPrefix,
    nextHopType,
    ...(typeof nextHopIpAddress === "string" ? { nextHopIpAddress } : {}),
  };
}

function routeResource(tableId: string, name: string, route: ArmRoute, provisioningState = "Succeeded") {
  return {
    name,
    id: `${tableId}/routes/${name}`,
    etag: `W/"${randomUUID()}"`,
    type: "Microsoft.Network/routeTables/routes",
    properties: { provisioningState, ...route },
  };
}

function nicResource(sub: string, nic: ArmNic) {
  const id = nic.scaleSet
    ? `/subscriptions/${sub}/resourceGroups/${nic.resourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${nic.scaleSet.name}/virtualMachines/${nic.scaleSet.instance}/networkInterfaces/${nic.name}`
    : `/subscriptions/${sub}/resourceGroups/${nic.resourceGroup}/providers/Microsoft.Network/networkInterfaces/${nic.name}`;
  return {
    name: nic.name,
    id,
    location: "westeurope",
    type: "Microsoft.Network/networkInterfaces",
    properties: {
      provisioningState: "Succeeded",
      enableIPForwarding: nic.enableIPForwarding,
      ipConfigurations: [
        {
          name: "ipconfig1",
          id: `${id}/ipConfigurations/ipconfig1`,
          properties: {
            privateIPAddress: nic.privateIp,
            privateIPAllocationMethod: "Dynamic",
            primary: true,
          },
        },
      ],
    },
  };
}

function methodNotAllowed(method: string): ArmError {
  return new ArmError(
    405,
    "MethodNotAllowed",
    `The requested resource does not support http method '${method}'.`,
  );
}

function tableKey(sub: string, rg: string, name: string): string {
  return `${sub}/${rg}/${name}`.toLowerCase();
}

function sameText(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function send(response: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(text);
}
