// Compile-time checks, run by tsc --noEmit in .ci/run: the types terminal.ts
// derives from the generated ones are the documented shapes (a wrong
// derivation would make them `never`, and these lines would not compile).
import type { PaymentDetail, PaymentRequest, Problem, Refund, TokenAnswer } from "./terminal";
import type { components as Admin } from "./admin";

export const examplePayment: PaymentRequest = { code: "990042123456789012345678", amount: 500, currency: "JPY", order_ref: "R-1" };
export const refunded = (p: PaymentDetail): number => p.refunded - p.refunds.reduce((sum, r) => sum + r.amount, 0);
export const refundID = (r: Refund): string => r.refund_id;
export const bearer = (t: TokenAnswer): string | undefined => t.access_token;
export const field = (p: Problem): string | undefined => p.param;
export const terminalStatus = (t: Admin["schemas"]["Terminal"]): "active" | "suspended" => t.status;
