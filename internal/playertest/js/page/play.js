// play.js runs inside headless Chromium. It reads its configuration from
// /_playertest/config.json (written by internal/playertest for this run),
// plays the manifest with the chosen player, checks that playback really
// progresses, seeks to the middle, checks that playback resumes, and publishes
// the outcome as window.__ptResult for play.mjs to collect.
//
// window.__ptState always holds the latest state, so a run that times out
// still reports how far it got.
(function () {
  'use strict';

  const PLAYERS = {
    shaka: '/_pt/node_modules/shaka-player/dist/shaka-player.compiled.js',
    hlsjs: '/_pt/node_modules/hls.js/dist/hls.min.js',
    dashjs: '/_pt/node_modules/dashjs/dist/modern/umd/dash.all.min.js',
  };

  const video = document.getElementById('video');
  const state = {
    ok: false,
    player: '',
    playerVersion: '',
    phase: 'init',
    reached: 0,
    frames: 0,
    droppedFrames: 0,
    duration: 0,
    seekTarget: -1,
    seekedAt: -1,
    resumedAt: -1,
    errors: [],
    warnings: [],
    events: [],
  };
  window.__ptState = state;

  const t0 = performance.now();
  function note(list, msg) {
    const line = ((performance.now() - t0) / 1000).toFixed(2) + 's ' + msg;
    if (list.length < 200) { list.push(line); }
    console.log('[playertest] ' + line);
  }
  function fail(msg) { note(state.errors, msg); }

  function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error('cannot load ' + src));
      document.head.appendChild(s);
    });
  }

  function bufferedRanges() {
    const out = [];
    for (let i = 0; i < video.buffered.length; i++) {
      out.push(video.buffered.start(i).toFixed(3) + '-' + video.buffered.end(i).toFixed(3));
    }
    return out.join(',');
  }

  function describeVideo() {
    return 'currentTime=' + video.currentTime.toFixed(3) + ' readyState=' + video.readyState +
      ' networkState=' + video.networkState + ' paused=' + video.paused + ' ended=' + video.ended +
      ' buffered=[' + bufferedRanges() + ']' + (video.error ? ' mediaError=' + video.error.code + ' ' + video.error.message : '');
  }

  // Waits until cond() holds, an error was recorded, or the deadline passes.
  async function waitFor(what, cond, timeoutMs) {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (state.errors.length) { return false; }
      if (cond()) { return true; }
      await sleep(50);
    }
    fail('timed out after ' + (timeoutMs / 1000) + 's waiting for ' + what + ': ' + describeVideo());
    return false;
  }

  function hexToB64url(hex) {
    const clean = hex.replace(/-/g, '');
    let bin = '';
    for (let i = 0; i < clean.length; i += 2) { bin += String.fromCharCode(parseInt(clean.substr(i, 2), 16)); }
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function describeShakaError(e) {
    return 'shaka error ' + e.code + ' (category ' + e.category + ', severity ' + e.severity + ') data=' +
      JSON.stringify(e.data, (k, v) => (v instanceof ArrayBuffer || ArrayBuffer.isView(v) ? '[' + (v.byteLength) + ' bytes]' : v));
  }

  async function startShaka(cfg) {
    shaka.polyfill.installAll();
    state.playerVersion = shaka.Player.version;
    if (!shaka.Player.isBrowserSupported()) { throw new Error('shaka: browser not supported'); }
    const player = new shaka.Player();
    window.__ptPlayer = player;
    player.addEventListener('error', (ev) => fail(describeShakaError(ev.detail)));
    await player.attach(video);
    const conf = { streaming: { retryParameters: { maxAttempts: 2 } } };
    if (cfg.drm) {
      conf.drm = {};
      if (cfg.drm.clearKeys && !cfg.drm.licenseOnly) {
        conf.drm.clearKeys = {};
        for (const [kid, key] of Object.entries(cfg.drm.clearKeys)) { conf.drm.clearKeys[kid.replace(/-/g, '')] = key; }
      } else if (cfg.drm.licenseUrl) {
        conf.drm.servers = { 'org.w3.clearkey': cfg.drm.licenseUrl };
      }
    }
    player.configure(conf);
    try {
      await player.load(cfg.manifest);
    } catch (e) {
      fail('load: ' + (e && e.code !== undefined ? describeShakaError(e) : String(e)));
      return;
    }
    note(state.events, 'loaded: ' + player.getVariantTracks().length + ' variants, active ' +
      JSON.stringify(player.getVariantTracks().filter((t) => t.active).map((t) => [t.width, t.height, t.bandwidth, t.videoCodec, t.audioCodec])));
  }

  async function startHlsjs(cfg) {
    state.playerVersion = Hls.version;
    if (!Hls.isSupported()) { throw new Error('hls.js: MSE not supported'); }
    // Few quick retries: a missing segment should fail the run as a fatal
    // error within seconds rather than after minutes of back-off.
    const retry = { maxNumRetry: 1, retryDelayMs: 500, maxRetryDelayMs: 1000 };
    const policy = { default: { maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 20000, timeoutRetry: retry, errorRetry: retry } };
    const conf = { debug: !!cfg.debug, enableWorker: true, fragLoadPolicy: policy, playlistLoadPolicy: policy, manifestLoadPolicy: policy };
    if (cfg.drm) {
      // hls.js has no inline-key option: it always asks a license server.
      conf.emeEnabled = true;
      conf.drmSystems = { 'org.w3.clearkey': { licenseUrl: cfg.drm.licenseUrl } };
      if (cfg.drm.hlsjsKeyIds) {
        // hls.js takes ClearKey init data only from "encrypted" events and
        // cannot tell which playlist key a pssh belongs to; build "keyids"
        // init data from the KID it read from the EXT-X-KEY instead.
        conf.drmSystems['org.w3.clearkey'].generateRequest = function (initDataType, initData, context) {
          const kid = context.decryptdata && context.decryptdata.keyId;
          if (!kid) { return { initDataType, initData }; }
          let hex = '';
          for (const b of kid) { hex += b.toString(16).padStart(2, '0'); }
          return { initDataType: 'keyids', initData: new TextEncoder().encode(JSON.stringify({ kids: [hexToB64url(hex)] })).buffer };
        };
      }
    }
    const hls = new Hls(conf);
    window.__ptPlayer = hls;
    hls.on(Hls.Events.ERROR, (ev, data) => {
      const msg = 'hls.js ' + (data.fatal ? 'fatal ' : '') + data.type + '/' + data.details +
        (data.reason ? ' reason=' + data.reason : '') + (data.error ? ' error=' + data.error.message : '') +
        (data.response ? ' http=' + data.response.code : '') + (data.url ? ' url=' + data.url : '');
      if (data.fatal) { fail(msg); } else { note(state.warnings, msg); }
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (ev, data) => {
      note(state.events, 'manifest parsed: ' + data.levels.length + ' levels ' +
        JSON.stringify(data.levels.map((l) => [l.width, l.height, l.bitrate, l.codecSet || l.videoCodec])));
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (ev, data) => note(state.events, 'level ' + data.level));
    hls.attachMedia(video);
    hls.loadSource(cfg.manifest);
  }

  async function startDashjs(cfg) {
    const player = dashjs.MediaPlayer().create();
    window.__ptPlayer = player;
    state.playerVersion = player.getVersion();
    const ev = dashjs.MediaPlayer.events;
    player.on(ev.ERROR, (e) => {
      const err = e.error || {};
      fail('dash.js error ' + (err.code !== undefined ? err.code : '') + ' ' + (err.message || JSON.stringify(e.error || e)));
    });
    player.on(ev.PLAYBACK_ERROR, (e) => fail('dash.js playback error ' + JSON.stringify(e.error || {})));
    player.on(ev.STREAM_INITIALIZED, () => {
      const reps = player.getRepresentationsByType ? player.getRepresentationsByType('video') : [];
      note(state.events, 'stream initialized: ' + reps.length + ' video representations');
    });
    player.updateSettings({ debug: { logLevel: cfg.debug ? dashjs.Debug.LOG_LEVEL_DEBUG : dashjs.Debug.LOG_LEVEL_WARNING } });
    player.initialize();
    if (cfg.drm) {
      const cc = {};
      if (cfg.drm.clearKeys && !cfg.drm.licenseOnly) {
        const keys = {};
        for (const [kid, key] of Object.entries(cfg.drm.clearKeys)) { keys[hexToB64url(kid)] = hexToB64url(key); }
        cc.clearkeys = keys;
      } else if (cfg.drm.licenseUrl) {
        cc.serverURL = cfg.drm.licenseUrl;
      }
      player.setProtectionData({ 'org.w3.clearkey': cc });
    }
    player.setAutoPlay(true);
    player.attachView(video);
    player.attachSource(cfg.manifest);
  }

  async function run() {
    const cfg = await (await fetch('/_playertest/config.json')).json();
    state.player = cfg.player;
    video.muted = true;
    video.addEventListener('error', () => fail('video element error: ' + describeVideo()));
    for (const name of ['loadedmetadata', 'canplay', 'playing', 'waiting', 'seeking', 'seeked', 'ended', 'encrypted']) {
      video.addEventListener(name, () => note(state.events, name + ' at ' + video.currentTime.toFixed(3)));
    }
    const src = PLAYERS[cfg.player];
    if (!src) { throw new Error('unknown player ' + cfg.player); }
    state.phase = 'loading player';
    await loadScript(src);
    state.phase = 'loading manifest';
    if (cfg.player === 'shaka') { await startShaka(cfg); }
    if (cfg.player === 'hlsjs') { await startHlsjs(cfg); }
    if (cfg.player === 'dashjs') { await startDashjs(cfg); }
    if (state.errors.length) { return; }
    if (cfg.playbackRate) { video.playbackRate = cfg.playbackRate; video.defaultPlaybackRate = cfg.playbackRate; }

    state.phase = 'starting playback';
    if (!await waitFor('metadata', () => video.readyState >= 1, cfg.stepTimeoutMs)) { return; }
    state.duration = video.duration;
    video.play().catch((e) => note(state.warnings, 'play(): ' + e));

    state.phase = 'playing';
    const minPlay = cfg.minPlaySeconds;
    // Short content cannot reach minPlay; accept reaching its end instead.
    const goal = Math.min(minPlay, Number.isFinite(video.duration) ? video.duration - 0.25 : minPlay);
    if (!await waitFor('playback to reach ' + goal.toFixed(2) + 's', () => {
      state.reached = Math.max(state.reached, video.currentTime);
      return video.currentTime >= goal;
    }, cfg.stepTimeoutMs + minPlay * 1000)) { return; }
    const q = video.getVideoPlaybackQuality();
    state.frames = q.totalVideoFrames;
    state.droppedFrames = q.droppedVideoFrames;

    if (cfg.seek) {
      state.phase = 'seeking';
      const d = Number.isFinite(video.duration) ? video.duration : state.reached * 2;
      state.seekTarget = d / 2;
      let seeked = false;
      video.addEventListener('seeked', () => { seeked = true; state.seekedAt = video.currentTime; }, { once: true });
      video.currentTime = state.seekTarget;
      if (!await waitFor('seeked event', () => seeked, cfg.stepTimeoutMs)) { return; }
      if (video.paused && !video.ended) { video.play().catch((e) => note(state.warnings, 'play() after seek: ' + e)); }
      // Resumed means the clock moves on from where the seek landed.
      const advance = Math.min(1.0, Math.max(0.1, (d - state.seekedAt) / 4));
      if (!await waitFor('playback to resume after seeking to ' + state.seekTarget.toFixed(2) + 's', () => {
        return video.currentTime >= state.seekedAt + advance;
      }, cfg.stepTimeoutMs)) { return; }
      state.resumedAt = video.currentTime;
      state.frames = Math.max(state.frames, video.getVideoPlaybackQuality().totalVideoFrames);
    }
    state.phase = 'done';
    state.ok = state.errors.length === 0;
  }

  run().catch((e) => fail('harness: ' + (e && e.stack ? e.stack : String(e)))).finally(() => {
    if (video.error && !state.errors.some((e) => e.includes('video element error'))) { fail('video element error: ' + describeVideo()); }
    state.ok = state.ok && state.errors.length === 0;
    window.__ptResult = state;
  });
})();
