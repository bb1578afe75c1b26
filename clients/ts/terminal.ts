// A small typed client of paycode's terminal API over fetch, on the types
// openapi-typescript generates from api/openapi.yaml (paycode.ts). The
// generated files are rewritten by .ci/run; this file is written by hand.
import type { components, operations } from "./paycode";

export type Problem = components["schemas"]["Problem"];
export type Payment = components["schemas"]["Payment"];
type JSONBody<Op extends keyof operations> = operations[Op] extends {
  requestBody: { content: { "application/json": infer B } };
}
  ? B
  : never;
type Answer<Op extends keyof operations, S extends number> = operations[Op]["responses"] extends {
  [K in S]: { content: { "application/json": infer T } };
}
  ? T
  : never;

export type PaymentRequest = JSONBody<"createPayment">;
export type RefundRequest = JSONBody<"createRefund">;
export type TopupRequest = JSONBody<"createTopup">;
export type TokenAnswer = Answer<"createTerminalToken", 200>;
export type PaymentDetail = Answer<"getPayment", 200>;
export type Refund = Answer<"createRefund", 201>;

/** A problem answer (RFC 9457): branch on problem.code, show problem.param's field. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${problem.code} (${status}): ${problem.detail ?? problem.title}`);
  }
}

export interface TerminalOptions {
  /** The server's base URL, such as https://pay.example.com */
  baseURL: string;
  /** The terminal's access token (POST /v1/terminal/token). */
  token: string;
  fetch?: typeof fetch;
}

/** The terminal token exchange: a signed client assertion for a 5-minute bearer token. */
export async function terminalToken(baseURL: string, clientAssertion: string, f: typeof fetch = fetch): Promise<TokenAnswer> {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: clientAssertion,
  });
  const res = await f(`${baseURL}/v1/terminal/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
  });
  return answer<TokenAnswer>(res);
}

/** The terminal API calls; retry a lost answer with the same idempotencyKey and body. */
export class Terminal {
  constructor(private readonly o: TerminalOptions) {}

  pay(idempotencyKey: string, body: PaymentRequest): Promise<Payment> {
    return this.call<Payment>("POST", "/v1/terminal/payments", idempotencyKey, body);
  }

  topup(idempotencyKey: string, body: TopupRequest): Promise<Payment> {
    return this.call<Payment>("POST", "/v1/terminal/topups", idempotencyKey, body);
  }

  refund(paymentID: string, idempotencyKey: string, body: RefundRequest): Promise<Refund> {
    return this.call<Refund>("POST", `/v1/terminal/payments/${encodeURIComponent(paymentID)}/refunds`, idempotencyKey, body);
  }

  payment(paymentID: string): Promise<PaymentDetail> {
    return this.call<PaymentDetail>("GET", `/v1/terminal/payments/${encodeURIComponent(paymentID)}`);
  }

  private async call<T>(method: string, path: string, idempotencyKey?: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.o.token}` };
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await (this.o.fetch ?? fetch)(`${this.o.baseURL}${path}`, init);
    return answer<T>(res);
  }
}

async function answer<T>(res: Response): Promise<T> {
  if (res.ok) return (await res.json()) as T;
  if ((res.headers.get("Content-Type") ?? "").startsWith("application/problem+json")) {
    throw new ProblemError(res.status, (await res.json()) as Problem);
  }
  throw new Error(`paycode answered ${res.status}`);
}
