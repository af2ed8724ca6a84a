// Verifies deliveries the way a GitHub App built on @octokit/webhooks does.
// stdin: JSON {"secret": str, "deliveries": [{"body": str, "headers": {name: value}}]}
// stdout: JSON [{"verified": bool, "id": str, "name": str}] in the same order.
import { Webhooks } from "@octokit/webhooks";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { secret, deliveries } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const webhooks = new Webhooks({ secret });
const received = [];
webhooks.onAny(({ id, name }) => received.push({ id, name }));
const results = [];
for (const { body, headers } of deliveries) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const before = received.length;
  let verified = false;
  try {
    await webhooks.verifyAndReceive({
      id: lower["x-github-delivery"],
      name: lower["x-github-event"],
      payload: body,
      signature: lower["x-hub-signature-256"],
    });
    verified = received.length > before;
  } catch {
    verified = false;
  }
  const got = received[received.length - 1] ?? { id: "", name: "" };
  results.push({ verified, id: verified ? got.id : "", name: verified ? got.name : "" });
}
process.stdout.write(JSON.stringify(results));
