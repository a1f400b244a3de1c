// Uploads a file to handover with tus-js-client (npm), the stock tus
// client, under Node: with retries, so that it resumes after each cut of
// a link that keeps breaking. Prints {"url":…, "document":…}.
//
// Usage: node tusjs_upload.js MODULE_DIR ENDPOINT TOKEN CHILD KIND FILE
"use strict";
const [moduleDir, endpoint, token, child, kind, path] = process.argv.slice(2);
const tus = require(require.resolve("tus-js-client", { paths: [moduleDir] }));
const fs = require("fs");

const data = fs.readFileSync(path);
let document = null;
let retries = 0;
const upload = new tus.Upload(data, {
  endpoint,
  headers: { Authorization: "Bearer " + token },
  metadata: { child, kind },
  chunkSize: 2 * 1024 * 1024,
  retryDelays: Array(200).fill(50),
  storeFingerprintForResuming: false,
  onShouldRetry: () => { retries++; return true; },
  onAfterResponse: (req, res) => {
    const doc = res.getHeader("Handover-Document");
    if (doc) { document = doc; }
  },
  onError: (e) => { console.error("upload failed: " + e); process.exit(1); },
  onSuccess: () => {
    console.log(JSON.stringify({ url: upload.url, document, retries }));
  },
});
upload.start();
