// A third client for the daemon's integration tests: the real yjs over the
// real y-websocket protocol (y-protocols), driven by JSON lines on stdin.
// Usage: node daemon-peer.mjs ws://127.0.0.1:PORT/ROOM
// Prints {"ready":true} once synced, then one JSON line per command.
import * as Y from 'yjs'
import * as syncProtocol from 'y-protocols/sync'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import WebSocket from 'ws'
import readline from 'readline'

const url = process.argv[2]
const doc = new Y.Doc()
const files = doc.getMap('files')
const seenClients = new Set()
let ws
let synced = false
let updatesFromOthers = 0

function send (bytes) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(bytes) }
function out (o) { process.stdout.write(JSON.stringify(o) + '\n') }

doc.on('update', (update, origin) => {
  if (origin === 'remote') return
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 0)
  syncProtocol.writeUpdate(enc, update)
  send(encoding.toUint8Array(enc))
})

function noteClients (update) {
  try {
    const d = Y.decodeUpdate(update)
    for (const s of d.structs) seenClients.add(s.id.client)
    for (const [client] of d.ds.clients) seenClients.add(client)
  } catch (e) {}
}

function connect () {
  ws = new WebSocket(url)
  ws.binaryType = 'arraybuffer'
  ws.on('open', () => {
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, 0)
    syncProtocol.writeSyncStep1(enc, doc)
    send(encoding.toUint8Array(enc))
  })
  ws.on('message', (data) => {
    const buf = new Uint8Array(data)
    const dec = decoding.createDecoder(buf)
    const kind = decoding.readVarUint(dec)
    if (kind !== 0) return
    const enc = encoding.createEncoder()
    encoding.writeVarUint(enc, 0)
    const msgType = decoding.peekVarUint(dec)
    if (msgType === 1 || msgType === 2) {
      const d2 = decoding.createDecoder(buf)
      decoding.readVarUint(d2); decoding.readVarUint(d2)
      const update = decoding.readVarUint8Array(d2)
      noteClients(update)
      updatesFromOthers++
    }
    syncProtocol.readSyncMessage(dec, enc, doc, 'remote')
    if (encoding.length(enc) > 1) send(encoding.toUint8Array(enc))
    if (msgType === 1 && !synced) { synced = true; out({ ready: true }) }
  })
  ws.on('close', () => { setTimeout(connect, 200) })
  ws.on('error', () => {})
}

function dump () {
  const o = {}
  for (const [k, v] of files.entries()) {
    if (v instanceof Y.Text) o[k] = { text: v.toString() }
    else if (v instanceof Uint8Array) o[k] = { binary: Buffer.from(v).toString('base64') }
    else o[k] = { other: String(v) }
  }
  return o
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const c = JSON.parse(line)
  try {
    switch (c.cmd) {
      case 'set':
        doc.transact(() => { const t = new Y.Text(); t.insert(0, c.text); files.set(c.path, t) })
        break
      case 'insert': files.get(c.path).insert(c.index, c.text); break
      case 'append': { const t = files.get(c.path); t.insert(t.length, c.text); break }
      case 'remove': files.get(c.path).delete(c.index, c.length); break
      case 'binary': files.set(c.path, new Uint8Array(Buffer.from(c.base64, 'base64'))); break
      case 'other': files.set(c.path, c.value); break
      case 'delete': files.delete(c.path); break
      case 'rename':
        doc.transact(() => {
          const v = files.get(c.from)
          const t = new Y.Text(); t.insert(0, v.toString())
          files.delete(c.from); files.set(c.to, t)
        })
        break
      case 'raw': send(new Uint8Array(Buffer.from(c.base64, 'base64'))); break
      case 'dump': out({ files: dump() }); return
      case 'clients': out({ clients: [...seenClients], updates: updatesFromOthers }); return
      case 'quit': process.exit(0)
    }
    out({ ok: true })
  } catch (e) {
    out({ error: String(e) })
  }
})
connect()
