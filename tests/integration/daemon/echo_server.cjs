// A WebSocket echo server for the transport tests: on connect it sends one
// text message (the transport must drop it), then echoes every message back
// as binary. Listens on HOST:PORT; needs NODE_PATH=tests/node/node_modules.
const WebSocket = require('ws')

const wss = new WebSocket.Server({ host: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT) })
wss.on('connection', ws => {
  ws.send('text messages are not for the transport')
  ws.on('message', data => ws.send(data, { binary: true }))
})
wss.on('listening', () => console.log('echo server listening'))
