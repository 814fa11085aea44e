// The floor for any Node.js admission webhook on this machine: the same listener as the webhook
// (node:http2 secure server with HTTP/1.1 fallback — for HTTP/1.1 that is exactly node:https's
// connection handling — TLS 1.2+, the same certificate), reads the whole body, JSON.parse()s it,
// and answers a fixed AdmissionReview (allowed, no patch) echoing request.uid. Nothing else:
// no framework, no routing, no mutation, no logging, no metrics.
//
// Env: TLS_SERVER_CERT_FILE, TLS_SERVER_KEY_FILE, WEBHOOK_PORT (0 = any). Prints
// `listening <port>` on stdout once bound to 127.0.0.1; stops on SIGTERM.
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';

const server = createSecureServer(
  {
    allowHTTP1: true,
    minVersion: 'TLSv1.2',
    cert: readFileSync(process.env.TLS_SERVER_CERT_FILE),
    key: readFileSync(process.env.TLS_SERVER_KEY_FILE),
  },
  (req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let uid;
      try {
        uid = JSON.parse(Buffer.concat(chunks).toString('utf8')).request.uid;
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('request body is not an AdmissionReview\n');
        return;
      }
      const body = JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid, allowed: true },
      });
      res
        .writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
        })
        .end(body);
    });
  },
);

server.listen(Number(process.env.WEBHOOK_PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
