// A misbehaving relay for the daemon's integration tests. On each
// connection: frames that do not decode, then a valid SyncStep2 (made by
// the real yjs) holding one good note and one hostile key, then silence —
// it answers nothing and no pings (a relay that accepted and then stalled).
// Usage: node hostile-relay.mjs PORT
import * as Y from 'yjs'
import * as syncProtocol from 'y-protocols/sync'
import * as encoding from 'lib0/encoding'
import { WebSocketServer } from 'ws'

const port = Number(process.argv[2])
const doc = new Y.Doc()
doc.transact(() => {
  const files = doc.getMap('files')
  const good = new Y.Text(); good.insert(0, 'valid content\n'); files.set('sent-by-hostile-relay.md', good)
  const evil = new Y.Text(); evil.insert(0, 'pwned'); files.set('../escape.md', evil)
})

const wss = new WebSocketServer({ host: '127.0.0.1', port, autoPong: false })
wss.on('connection', (ws) => {
  // Stalled: never answer pings.
  ws.pong = () => {}
  const garbage = [
    [0, 2, 5, 1, 2, 3],          // sync update whose payload is cut short
    [0, 9, 1],                   // unknown sync message type
    [0xff, 0xff, 0xff, 0xff],    // a varint that never ends
    [0, 1, 3, 0xde, 0xad, 0xbe]  // SyncStep2 whose update does not decode
  ]
  for (const g of garbage) ws.send(new Uint8Array(g))
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 0)
  syncProtocol.writeSyncStep2(enc, doc)
  ws.send(encoding.toUint8Array(enc))
  ws.on('message', () => {})
})
wss.on('listening', () => console.log('hostile relay on ' + port))
