#!/usr/bin/env node
// CouchDB-protocol test server for Stratus (started by deploy/local/couchdb.sh).
//
// express-pouchdb 4.2.0 on PouchDB 7.3.1 (in memory by default), with the
// differences from Apache CouchDB 3 that clients notice fixed here:
//
//   - GET /_up answers {"status":"ok"}; GET / answers a CouchDB 3 welcome.
//   - No response compression (a continuous _changes feed streams line by line).
//   - No express weak ETag: document GET/HEAD send CouchDB's ETag "<rev>"
//     (kivik's GetRev reads it) and honour If-None-Match with 304.
//   - DELETE of a document with a stale or missing rev answers 409 conflict
//     (express-pouchdb answers 404 or deletes the newest revision).
//   - PUT /db/id: the URL id wins over a body _id, exactly as CouchDB 3 does
//     (chttpd_db couch_doc_from_req sets the id from the URL); a body _rev
//     that differs from ?rev= is a 400, as in CouchDB. If-Match works as rev.
//   - gzip/deflate request bodies (kivik compresses by default) are inflated
//     before routing, so documents and standalone attachments arrive intact.
//   - Continuous/longpoll _changes feeds are cancelled when the client goes.
//   - Authentication: with STRATUS_COUCHDB_USER and STRATUS_COUCHDB_PASSWORD
//     set, every request except GET /, /_up and /_session needs that admin's
//     Basic auth or an AuthSession cookie from POST /_session (401 otherwise);
//     unset, any credentials (or none) are accepted. express-pouchdb's own
//     authentication (which crashes pouchdb-server) is not used.
//   - GET /_uuids is served.
//
// Usage: node server.js [--host 127.0.0.1] [--port 5984] [--data DIR] [--log]
//   --port 0     picks a free port; the chosen one is printed and, with
//                --port-file FILE, written to FILE.
//   --data DIR   keep databases on disk under DIR (LevelDB; needs the optional
//                pouchdb-adapter-leveldb package) instead of in memory.
//   --log        one line per request on stdout (also STRATUS_COUCHDB_LOG=1).
'use strict';

const http = require('http');
const zlib = require('zlib');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { AsyncLocalStorage } = require('async_hooks');

const express = require('express');
const expressPouchDB = require('express-pouchdb');
const { getOrCreateDB } = require('express-pouchdb/lib/create-or-delete-dbs');
const cleanFilename = require('express-pouchdb/lib/clean-filename');

const COUCH_VERSION = '3.3.3';
const MAX_BODY = 64 * 1024 * 1024;

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1',
    port: 5984,
    data: '',
    portFile: '',
    log: process.env.STRATUS_COUCHDB_LOG === '1',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--host': opts.host = val(); break;
      case '--port': opts.port = Number(val()); break;
      case '--port-file': opts.portFile = val(); break;
      case '--data': opts.data = val(); break;
      case '--log': opts.log = true; break;
      case '-h': case '--help':
        process.stdout.write('usage: node server.js [--host H] [--port P] [--port-file F] [--data DIR] [--log]\n');
        process.exit(0);
        break;
      default: fail(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) fail('bad --port');
  return opts;
}

function fail(msg) {
  process.stderr.write(`couchdb server: ${msg}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

// --- PouchDB -----------------------------------------------------------------

let PouchDB = require('pouchdb-core')
  .plugin(require('pouchdb-adapter-http'))
  .plugin(require('pouchdb-mapreduce'))
  .plugin(require('pouchdb-replication'))
  .plugin(require('pouchdb-find'));

if (opts.data) {
  let leveldb;
  try {
    leveldb = require('pouchdb-adapter-leveldb');
  } catch (e) {
    fail('--data needs the pouchdb-adapter-leveldb package (npm install pouchdb-adapter-leveldb@7.3.1)');
  }
  fs.mkdirSync(opts.data, { recursive: true });
  PouchDB = PouchDB.plugin(leveldb).defaults({
    adapter: 'leveldb',
    prefix: path.resolve(opts.data) + path.sep,
  });
} else {
  PouchDB = PouchDB.plugin(require('pouchdb-adapter-memory')).defaults({ adapter: 'memory' });
}

// --- helpers -------------------------------------------------------------------

function sendJSON(res, status, body) {
  const buf = Buffer.from(JSON.stringify(body) + '\n', 'utf8');
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', buf.length);
  res.end(res.req && res.req.method === 'HEAD' ? undefined : buf);
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch (e) {
    return s;
  }
}

// docTarget returns {db, id} when the request path names a document
// (/db/id, /db/_design/name, /db/_local/name, or the same with an encoded
// slash), and null for anything else (databases, _all_docs, attachments...).
function docTarget(req) {
  const segs = req.path.split('/').slice(1);
  if (segs.length < 2 || !segs[0] || segs[0].startsWith('_')) return null;
  const db = safeDecode(segs[0]);
  const rest = segs.slice(1);
  let id;
  if (rest.length === 1) {
    id = safeDecode(rest[0]);
    if (id.startsWith('_') && !/^_(design|local)\/./.test(id)) return null;
  } else if (rest.length === 2 && (rest[0] === '_design' || rest[0] === '_local') && rest[1]) {
    id = rest[0] + '/' + safeDecode(rest[1]);
  } else {
    return null;
  }
  if (!id) return null;
  return { db, id };
}

// ifMatchRev returns the revision from an If-Match header, if any.
function ifMatchRev(req) {
  const h = req.headers['if-match'];
  if (!h) return '';
  return h.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

async function openExistingDB(name) {
  const clean = cleanFilename(name);
  const dbs = await PouchDB.allDbs();
  if (dbs.indexOf(clean) === -1) return null;
  return getOrCreateDB(PouchDB, clean);
}

// --- request body inflation --------------------------------------------------

// inflated returns a request object whose body is the decompressed body of
// req (gzip or deflate), or calls onError. express reads bodies from the
// request stream itself, so a fresh IncomingMessage carries the bytes.
function inflateRequest(req, enc, done) {
  const chunks = [];
  let size = 0;
  let failed = false;
  const inflater = enc === 'deflate' ? zlib.createInflate() : zlib.createGunzip();
  const bail = (status, reason) => {
    if (failed) return;
    failed = true;
    req.unpipe(inflater);
    inflater.destroy();
    req.resume();
    done(null, status, reason);
  };
  inflater.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) return bail(413, 'the request entity is too large');
    chunks.push(c);
  });
  inflater.on('error', () => bail(400, `invalid ${enc} request body`));
  inflater.on('end', () => {
    if (failed) return;
    const body = Buffer.concat(chunks);
    const fake = new http.IncomingMessage(req.socket);
    fake.method = req.method;
    fake.url = req.url;
    fake.httpVersion = req.httpVersion;
    fake.httpVersionMajor = req.httpVersionMajor;
    fake.httpVersionMinor = req.httpVersionMinor;
    const headers = Object.assign({}, req.headers);
    delete headers['content-encoding'];
    delete headers['transfer-encoding'];
    headers['content-length'] = String(body.length);
    fake.headers = headers;
    fake.rawHeaders = [];
    for (const k of Object.keys(headers)) fake.rawHeaders.push(k, String(headers[k]));
    fake.push(body);
    fake.push(null);
    fake.complete = true;
    done(fake);
  });
  req.pipe(inflater);
}

// --- authentication ------------------------------------------------------------

const adminUser = process.env.STRATUS_COUCHDB_USER || '';
const adminPass = process.env.STRATUS_COUCHDB_PASSWORD || '';
const authRequired = adminUser !== '' || adminPass !== '';
const sessions = new Map(); // AuthSession token -> user name

function timingSafeEqualStr(a, b) {
  const ha = crypto.createHash('sha256').update(String(a)).digest();
  const hb = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(ha, hb);
}

function checkCredentials(name, password) {
  if (!authRequired) return true;
  return timingSafeEqualStr(name, adminUser) && timingSafeEqualStr(password, adminPass);
}

function parseCookies(req) {
  const out = {};
  const h = req.headers.cookie;
  if (!h) return out;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

// whoIs returns {name, method} for the request's credentials, {name: null}
// for none, or null for credentials that do not match.
function whoIs(req) {
  const auth = req.headers.authorization || '';
  if (/^basic /i.test(auth)) {
    const raw = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = raw.indexOf(':');
    const name = i >= 0 ? raw.slice(0, i) : raw;
    const pass = i >= 0 ? raw.slice(i + 1) : '';
    return checkCredentials(name, pass) ? { name, method: 'default' } : null;
  }
  const token = parseCookies(req).AuthSession;
  if (token && sessions.has(token)) return { name: sessions.get(token), method: 'cookie' };
  if (token && !authRequired) return { name: null, method: 'cookie' };
  return { name: null };
}

function userCtx(name) {
  return { name: name || null, roles: name || !authRequired ? ['_admin'] : [] };
}

// --- the app ---------------------------------------------------------------------

const feeds = new AsyncLocalStorage();

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.set('query parser', 'simple');

app.use((req, res, next) => {
  res.setHeader('Server', `CouchDB/${COUCH_VERSION} (stratus-local express-pouchdb/4.2.0)`);
  res.setHeader('Cache-Control', 'must-revalidate');
  if (opts.log) {
    const t0 = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      process.stdout.write(`${req.method} ${req.originalUrl} ${res.statusCode} ${ms.toFixed(1)}ms\n`);
    });
  }
  next();
});

app.get('/_up', (req, res) => sendJSON(res, 200, { status: 'ok', seeds: {} }));

const serverUUID = crypto.randomBytes(16).toString('hex');
app.get('/', (req, res) =>
  sendJSON(res, 200, {
    couchdb: 'Welcome',
    version: COUCH_VERSION,
    git_sha: 'stratus-local',
    uuid: serverUUID,
    features: [],
    vendor: { name: 'Stratus local CouchDB-protocol server (express-pouchdb 4.2.0, PouchDB 7.3.1)' },
  }));

const sessionBody = express.urlencoded({ extended: false, limit: '64kb' });
const sessionJSON = express.json({ limit: '64kb', type: () => true });
app.post('/_session', (req, res, next) => {
  const ct = req.headers['content-type'] || '';
  (/x-www-form-urlencoded/.test(ct) ? sessionBody : sessionJSON)(req, res, (err) => {
    if (err) return sendJSON(res, 400, { error: 'bad_request', reason: 'invalid session request body' });
    const body = req.body || {};
    const name = body.name || body.username || '';
    const password = body.password || '';
    if (!checkCredentials(name, password)) {
      return sendJSON(res, 401, { error: 'unauthorized', reason: 'Name or password is incorrect.' });
    }
    const token = crypto.randomBytes(24).toString('base64url');
    sessions.set(token, name);
    res.setHeader('Set-Cookie', `AuthSession=${token}; Version=1; Path=/; HttpOnly`);
    sendJSON(res, 200, { ok: true, name: name || null, roles: userCtx(name).roles });
  });
});
app.get('/_session', (req, res) => {
  const who = whoIs(req) || { name: null };
  sendJSON(res, 200, {
    ok: true,
    userCtx: userCtx(who.name),
    info: {
      authentication_handlers: ['cookie', 'default'],
      ...(who.method ? { authenticated: who.method } : {}),
    },
  });
});
app.delete('/_session', (req, res) => {
  const token = parseCookies(req).AuthSession;
  if (token) sessions.delete(token);
  res.setHeader('Set-Cookie', 'AuthSession=; Version=1; Path=/; HttpOnly; Max-Age=0');
  sendJSON(res, 200, { ok: true });
});

app.use((req, res, next) => {
  const who = whoIs(req);
  if (!who) {
    return sendJSON(res, 401, { error: 'unauthorized', reason: 'Name or password is incorrect.' });
  }
  if (authRequired && !who.name) {
    return sendJSON(res, 401, { error: 'unauthorized', reason: 'You are not authorized to access this db.' });
  }
  next();
});

app.get('/_uuids', (req, res) => {
  const count = req.query.count === undefined ? 1 : Number(req.query.count);
  if (!Number.isInteger(count) || count < 0 || count > 1000) {
    return sendJSON(res, 400, { error: 'bad_request', reason: 'count must be an integer from 0 to 1000' });
  }
  const uuids = [];
  for (let i = 0; i < count; i++) uuids.push(crypto.randomBytes(16).toString('hex'));
  sendJSON(res, 200, { uuids });
});

// PUT /db/id: the URL id wins over the body's _id (CouchDB 3 behaviour).
const docJSON = express.json({ limit: MAX_BODY, type: () => true, strict: false });
app.put('*', (req, res, next) => {
  const t = docTarget(req);
  if (!t || /^multipart\//i.test(req.headers['content-type'] || '')) return next();
  docJSON(req, res, (err) => {
    if (err) {
      if (err.status === 413) return sendJSON(res, 413, { error: 'too_large', reason: 'the request entity is too large' });
      return sendJSON(res, 400, { error: 'bad_request', reason: 'invalid UTF-8 JSON' });
    }
    const body = req.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return sendJSON(res, 400, { error: 'bad_request', reason: 'Document must be a JSON object' });
    }
    body._id = t.id;
    const qrev = req.query.rev;
    if (qrev && body._rev && qrev !== body._rev) {
      return sendJSON(res, 400, {
        error: 'bad_request',
        reason: 'Document rev from request body and query string have different values',
      });
    }
    if (!body._rev && !qrev) {
      const h = ifMatchRev(req);
      if (h) body._rev = h;
    }
    next();
  });
});

// DELETE /db/id with a stale or missing rev: 409, as CouchDB.
app.delete('*', (req, res, next) => {
  const t = docTarget(req);
  if (!t) return next();
  (async () => {
    const db = await openExistingDB(t.db);
    if (!db) return next(); // express-pouchdb answers 404 no_db_file
    let doc;
    try {
      doc = await db.get(t.id, { conflicts: true });
    } catch (e) {
      return next(); // missing or deleted: express-pouchdb answers 404
    }
    const rev = req.query.rev || ifMatchRev(req);
    const leaves = [doc._rev].concat(doc._conflicts || []);
    if (!rev || leaves.indexOf(rev) === -1) {
      return sendJSON(res, 409, { error: 'conflict', reason: 'Document update conflict.' });
    }
    req.query.rev = rev;
    hookETag(req, res, 'rev', [200, 202], false);
    next();
  })().catch(next);
});

// hookETag makes res.send add CouchDB's ETag header, the quoted revision,
// taken from the JSON body's field (`_rev` for a document, `rev` for a write
// result) when the response status is one of okStatuses. With ifNoneMatch, a
// matching If-None-Match header turns the response into a 304.
function hookETag(req, res, field, okStatuses, ifNoneMatch) {
  const send = res.send;
  res.send = function (body) {
    if (okStatuses.indexOf(res.statusCode) !== -1 && Buffer.isBuffer(body) && body.length && body[0] === 0x7b) {
      let rev;
      try {
        rev = JSON.parse(body.toString('utf8'))[field];
      } catch (e) {
        rev = undefined;
      }
      if (typeof rev === 'string' && rev) {
        const etag = `"${rev}"`;
        res.setHeader('ETag', etag);
        if (ifNoneMatch && req.headers['if-none-match'] === etag) {
          res.statusCode = 304;
          res.removeHeader('Content-Type');
          res.removeHeader('Content-Length');
          return res.end();
        }
      }
    }
    return send.call(this, body);
  };
}

// GET/HEAD /db/id: CouchDB's ETag is the quoted rev (not for _local docs,
// whose ETag CouchDB derives from the body).
app.get('*', (req, res, next) => {
  const t = docTarget(req);
  if (t && !t.id.startsWith('_local/') && req.query.open_revs === undefined) {
    hookETag(req, res, '_rev', [200], true);
  }
  next();
});

// Writes answer with the new revision as ETag too (kivik's Delete reads it);
// express-pouchdb sets it for PUT but not for DELETE or POST /db.
app.post('/:db', (req, res, next) => {
  hookETag(req, res, 'rev', [201, 202], false);
  next();
});

// Live _changes feeds: remember what express-pouchdb starts for this request
// (the PouchDB changes emitter and its heartbeat timer) and stop both when
// the client goes away; express-pouchdb leaks them for continuous feeds.
app.all('/:db/_changes', (req, res, next) => {
  const store = { feeds: [], timers: [] };
  const stop = () => {
    store.timers.forEach((t) => clearInterval(t));
    store.feeds.forEach((f) => {
      try {
        f.cancel();
      } catch (e) { /* already done */ }
    });
  };
  res.on('close', stop);
  feeds.run(store, next);
});
const origSetInterval = global.setInterval;
global.setInterval = function (...args) {
  const t = origSetInterval.apply(this, args);
  const store = feeds.getStore();
  if (store) store.timers.push(t);
  return t;
};

const pouchApp = expressPouchDB(PouchDB, {
  mode: 'minimumForPouchDB',
  overrideMode: {
    include: ['routes/find'],
    exclude: ['compression'],
  },
});
pouchApp.disable('x-powered-by');
pouchApp.set('etag', false);
pouchApp.dbWrapper.registerWrapper((name, db, next) => {
  if (!db.__stratusChangesWrapped) {
    const changes = db.changes;
    db.changes = function (...args) {
      const feed = changes.apply(this, args);
      const store = feeds.getStore();
      if (store && feed && typeof feed.cancel === 'function') store.feeds.push(feed);
      return feed;
    };
    db.__stratusChangesWrapped = true;
  }
  return next();
});
app.use(pouchApp);

// Errors that escape the routes: JSON, as CouchDB.
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  process.stderr.write(`error on ${req.method} ${req.originalUrl}: ${err && err.stack ? err.stack : err}\n`);
  if (res.headersSent) return res.end();
  sendJSON(res, err.status || 500, { error: err.name || 'unknown_error', reason: err.message || String(err) });
});

// --- the server --------------------------------------------------------------------

const sockets = new Set();
const server = http.createServer((req, res) => {
  const enc = String(req.headers['content-encoding'] || '').trim().toLowerCase();
  if (enc === 'gzip' || enc === 'x-gzip' || enc === 'deflate') {
    inflateRequest(req, enc === 'deflate' ? 'deflate' : 'gzip', (fake, status, reason) => {
      if (!fake) {
        res.req = req;
        return sendJSON(res, status, { error: status === 413 ? 'too_large' : 'bad_request', reason });
      }
      app(fake, res);
    });
    return;
  }
  if (enc && enc !== 'identity') {
    res.req = req;
    return sendJSON(res, 415, { error: 'bad_content_type', reason: 'Only gzip and identity content-encodings are supported' });
  }
  app(req, res);
});
server.keepAliveTimeout = 65000;
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
server.on('error', (err) => {
  process.stderr.write(`couchdb server: ${err.message}\n`);
  process.exit(err.code === 'EADDRINUSE' ? 98 : 1);
});

process.on('unhandledRejection', (err) => {
  process.stderr.write(`unhandled rejection: ${err && err.stack ? err.stack : err}\n`);
});

function shutdown(sig) {
  process.stdout.write(`couchdb server: ${sig}, shutting down\n`);
  server.close(() => process.exit(0));
  for (const s of sockets) s.destroy();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(opts.port, opts.host, () => {
  const port = server.address().port;
  if (opts.portFile) fs.writeFileSync(opts.portFile, `${port}\n`);
  const where = opts.data ? `LevelDB under ${path.resolve(opts.data)}` : 'in memory';
  const auth = authRequired ? `admin ${adminUser}` : 'any credentials';
  process.stdout.write(`couchdb server: listening on http://${opts.host}:${port} (${where}, ${auth})\n`);
});
