// WHEP player of the cmafkit preview page (RFC 9725 egress): plays the
// element #whep-player's data-whep endpoint with a plain RTCPeerConnection.
// The offer is sent once ICE gathering is complete (or after 1 s); the
// server answers with all of its candidates, so there is no trickle ICE.
// window.cmafkitWHEP exposes start(), stop() and the peer connection.
(function () {
  'use strict';
  const box = document.getElementById('whep-player');
  if (!box) { return; }
  const video = document.getElementById('whep-video');
  const status = document.getElementById('whep-status');
  const startButton = document.getElementById('whep-start');
  const stopButton = document.getElementById('whep-stop');
  let pc = null;
  let resource = null;

  function show(msg) { if (status) { status.textContent = msg; } }

  function gathered(conn, ms) {
    return new Promise(function (resolve) {
      if (conn.iceGatheringState === 'complete') { resolve(); return; }
      const timer = setTimeout(resolve, ms);
      conn.addEventListener('icegatheringstatechange', function () {
        if (conn.iceGatheringState === 'complete') { clearTimeout(timer); resolve(); }
      });
    });
  }

  async function start() {
    await stop();
    const conn = new RTCPeerConnection();
    pc = conn;
    conn.addTransceiver('video', { direction: 'recvonly' });
    conn.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    conn.ontrack = function (ev) {
      stream.addTrack(ev.track);
      video.srcObject = stream;
      video.play().catch(function () {});
    };
    conn.onconnectionstatechange = function () { show('WebRTC ' + conn.connectionState); };
    await conn.setLocalDescription(await conn.createOffer());
    await gathered(conn, 1000);
    show('Offering to ' + box.dataset.whep + ' …');
    const resp = await fetch(box.dataset.whep, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: conn.localDescription.sdp,
    });
    const body = await resp.text();
    if (resp.status !== 201) {
      show('WHEP refused: ' + resp.status + ' ' + body);
      throw new Error('WHEP ' + resp.status + ': ' + body);
    }
    const loc = resp.headers.get('Location');
    resource = loc ? new URL(loc, resp.url).href : null;
    await conn.setRemoteDescription({ type: 'answer', sdp: body });
    if (startButton) { startButton.disabled = true; }
    if (stopButton) { stopButton.disabled = false; }
  }

  async function stop() {
    if (resource) {
      const r = resource;
      resource = null;
      await fetch(r, { method: 'DELETE' }).catch(function () {});
    }
    if (pc) { pc.close(); pc = null; }
    if (startButton) { startButton.disabled = false; }
    if (stopButton) { stopButton.disabled = true; }
  }

  if (startButton) { startButton.addEventListener('click', function () { start().catch(function (e) { show(String(e)); }); }); }
  if (stopButton) { stopButton.addEventListener('click', function () { stop(); }); }
  window.cmafkitWHEP = { start: start, stop: stop, get pc() { return pc; } };
})();
