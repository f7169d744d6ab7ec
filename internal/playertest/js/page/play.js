// play.js runs inside headless Chromium. It reads its configuration from
// /_playertest/config.json (written by internal/playertest for this run),
// plays the manifest with the chosen player, checks that playback really
// progresses, seeks to the middle, checks that playback resumes, and publishes
// the outcome as window.__ptResult for play.mjs to collect.
//
// With config.text it also selects a text track by language (and format),
// makes it visible the way each player's API does, and records every cue the
// player put on a showing text track of the <video> element, and the cues
// that were active (displayed) while playing.
//
// window.__ptState always holds the latest state, so a run that times out
// still reports how far it got.
(function () {
  'use strict';

  const PLAYERS = {
    shaka: '/_pt/node_modules/shaka-player/dist/shaka-player.compiled.js',
    hlsjs: '/_pt/node_modules/hls.js/dist/hls.min.js',
    dashjs: '/_pt/node_modules/dashjs/dist/modern/umd/dash.all.min.js',
    // dash.js with its Smooth Streaming module, which dash.js's MediaPlayer
    // finds as dashjs.MssHandler once loaded after it.
    'dashjs-mss': ['/_pt/node_modules/dashjs/dist/modern/umd/dash.all.min.js',
      '/_pt/node_modules/dashjs/dist/modern/umd/dash.mss.min.js'],
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
    textTrack: '',
    textTracks: [],
    cues: [],
    shown: [],
    requests: [],
    sourceBuffers: [],
    live: false,
    wallPlayed: 0,
    mediaPlayed: 0,
    stalls: 0,
    latency: -1,
    finalLatency: -1,
    latencies: [],
    adMarkers: [],
  };
  window.__ptState = state;

  // Every SourceBuffer a player creates is watched, so a run can report
  // where each track's media landed on the timeline: the first buffered
  // start seen after an append, and the player's timestampOffset then. That
  // is what tells whether audio and video start together.
  for (const MS of [window.MediaSource, window.ManagedMediaSource]) {
    if (!MS || !MS.prototype.addSourceBuffer) { continue; }
    const add = MS.prototype.addSourceBuffer;
    MS.prototype.addSourceBuffer = function (mime) {
      const sb = add.call(this, mime);
      const info = { mime: String(mime), firstStart: null, timestampOffset: 0, appendWindowStart: 0, start: null, end: null };
      state.sourceBuffers.push(info);
      sb.addEventListener('updateend', () => {
        try {
          if (info.firstStart === null && sb.buffered.length > 0) {
            info.firstStart = sb.buffered.start(0);
            info.timestampOffset = sb.timestampOffset;
            info.appendWindowStart = sb.appendWindowStart;
          }
          if (sb.buffered.length > 0) {
            info.start = sb.buffered.start(0);
            info.end = sb.buffered.end(sb.buffered.length - 1);
          }
        } catch (e) { /* the SourceBuffer was removed */ }
      });
      return sb;
    };
  }

  const t0 = performance.now();
  function note(list, msg) {
    const line = ((performance.now() - t0) / 1000).toFixed(2) + 's ' + msg;
    if (list.length < 200) { list.push(line); }
    console.log('[playertest] ' + line);
  }
  function fail(msg) { note(state.errors, msg); }

  // adMarker records a timed marker a player exposed once (hls.js date
  // ranges, Shaka timeline regions, dash.js events of the SCTE-35 scheme).
  function adMarker(source, id, scheme, start) {
    id = String(id);
    if (state.adMarkers.length >= 200 || state.adMarkers.some((m) => m.source === source && m.id === id)) { return; }
    state.adMarkers.push({ source: source, id: id, scheme: scheme || '', start: Number(start) || 0 });
    note(state.events, source + ' marker ' + id + ' ' + (scheme || '') + ' at ' + Number(start).toFixed(3));
  }

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

  // Text tracks. langMatch compares language tags the way hls.js does
  // (equal, or one a prefix of the other: "en" matches "eng" and "en-US").
  function langMatch(a, b) {
    a = (a || '').toLowerCase(); b = (b || '').toLowerCase();
    if (!a || !b) { return false; }
    return a === b || a.startsWith(b) || b.startsWith(a);
  }
  // formatMatch tells whether a track described by its MIME type and codecs
  // carries the wanted format: "stpp" (TTML/IMSC1 in fMP4) or "webvtt"
  // (wvtt in fMP4, or WebVTT text); an empty format matches any.
  function formatMatch(format, mimeType, codecs) {
    const d = ((mimeType || '') + ' ' + (codecs || '')).toLowerCase();
    if (!format) { return true; }
    if (format === 'stpp') { return d.includes('stpp') || d.includes('ttml'); }
    if (format === 'webvtt') { return !d.includes('stpp') && !d.includes('ttml'); }
    return false;
  }

  // The text of a cue: VTTCue.text, or for dash.js's TTML cues (empty text,
  // rendered from an IMSC1 intermediate synchronic document) the text of
  // that document's spans.
  function isdText(e) {
    if (!e) { return ''; }
    if (e.kind === 'br') { return '\n'; }
    let t = e.kind === 'span' && typeof e.text === 'string' ? e.text : '';
    for (const c of e.contents || []) { t += isdText(c); }
    if (e.kind === 'p' && t) { t += '\n'; }
    return t;
  }
  function cueText(c) {
    if (c.text) { return c.text; }
    if (c.isd) { return isdText(c.isd).trim(); }
    if (c.cueHTMLElement) { return c.cueHTMLElement.textContent || ''; }
    return '';
  }

  const seenCues = new Set();
  const seenShown = new Set();
  let ttmlDiv = null;
  // collectCues records the cues on every showing text track. Players add
  // cues as text segments arrive and dash.js keeps only a window around the
  // playhead on the track, so this runs throughout playback.
  function collectCues() {
    const tracks = [];
    for (let i = 0; i < video.textTracks.length; i++) {
      const tt = video.textTracks[i];
      tracks.push(tt.kind + ' "' + tt.label + '" lang=' + tt.language + ' mode=' + tt.mode + ' cues=' + (tt.cues ? tt.cues.length : 0));
      if (tt.mode !== 'showing' || !tt.cues) { continue; }
      for (let j = 0; j < tt.cues.length; j++) {
        const c = tt.cues[j];
        const text = cueText(c);
        const key = c.startTime.toFixed(3) + '|' + c.endTime.toFixed(3) + '|' + text;
        if (!seenCues.has(key) && state.cues.length < 500) {
          seenCues.add(key);
          state.cues.push({ start: c.startTime, end: c.endTime, text: text });
        }
      }
      if (!video.paused && tt.activeCues) {
        for (let j = 0; j < tt.activeCues.length; j++) {
          const text = cueText(tt.activeCues[j]);
          if (text && !seenShown.has(text) && state.shown.length < 100) { seenShown.add(text); state.shown.push(text); }
        }
      }
    }
    // dash.js renders TTML into its own element rather than natively.
    if (ttmlDiv && !video.paused) {
      const text = (ttmlDiv.innerText || '').trim();
      if (text && !seenShown.has(text) && state.shown.length < 100) { seenShown.add(text); state.shown.push(text); }
    }
    state.textTracks = tracks;
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
    player.addEventListener('timelineregionadded', (ev) => {
      const r = ev.detail || {};
      adMarker('shaka', r.id, r.schemeIdUri, r.startTime);
    });
    await player.attach(video);
    const conf = { streaming: { retryParameters: { maxAttempts: 2 } } };
    if (cfg.lowLatency) {
      // Shaka takes the target from an MPD's ServiceDescription. Its live
      // sync counts the target from the end of its seek range, which is
      // PART-HOLD-BACK behind an LL-HLS live edge: HLS gets catch-up to
      // that end (target 0), DASH the MPD's target.
      conf.streaming.lowLatencyMode = true;
      if (cfg.targetLatency || !/\.mpd(\?|$)/.test(cfg.manifest)) {
        conf.streaming.liveSync = { enabled: true, targetLatency: cfg.targetLatency || 0, maxPlaybackRate: 1.5 };
      }
    }
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
    if (cfg.text) {
      // Shaka 5 has no selectTextLanguage/setTextTrackVisibility any more:
      // selectTextTrack(track) selects a track and makes text visible
      // (selectTextTrack(null) hides it).
      const all = player.getTextTracks();
      const t = all.find((t) => langMatch(t.language, cfg.text.language) && formatMatch(cfg.text.format, t.mimeType, t.codecs));
      if (!t) {
        fail('shaka: no text track for ' + JSON.stringify(cfg.text) + ' among ' + JSON.stringify(all.map((t) => [t.language, t.mimeType, t.codecs, t.label])));
        return;
      }
      player.selectTextTrack(t);
      state.textTrack = [t.language, t.mimeType, t.codecs, t.label].join(' ');
      note(state.events, 'text track selected: ' + state.textTrack);
    }
  }

  async function startHlsjs(cfg) {
    state.playerVersion = Hls.version;
    if (!Hls.isSupported()) { throw new Error('hls.js: MSE not supported'); }
    // Few quick retries: a missing segment should fail the run as a fatal
    // error within seconds rather than after minutes of back-off.
    const retry = { maxNumRetry: 1, retryDelayMs: 500, maxRetryDelayMs: 1000 };
    const policy = { default: { maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 20000, timeoutRetry: retry, errorRetry: retry } };
    const conf = { debug: !!cfg.debug, enableWorker: true, fragLoadPolicy: policy, playlistLoadPolicy: policy, manifestLoadPolicy: policy };
    if (cfg.lowLatency) {
      // Low-latency mode (parts, blocking reload) with catch-up to the
      // target latency the playlist's PART-HOLD-BACK gives.
      conf.lowLatencyMode = true;
      conf.maxLiveSyncPlaybackRate = 1.5;
    }
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
    let textWant = null;
    hls.on(Hls.Events.MANIFEST_PARSED, (ev, data) => {
      note(state.events, 'manifest parsed: ' + data.levels.length + ' levels ' +
        JSON.stringify(data.levels.map((l) => [l.width, l.height, l.bitrate, l.codecSet || l.videoCodec])));
      if (!cfg.text) { return; }
      // hls.js only offers the subtitle tracks of the playing level's
      // SUBTITLES group (subtitleTracks); IMSC1 and WebVTT renditions sit
      // in different groups, so pick the track among all of them and lock
      // playback to a level that references its group.
      const all = hls.allSubtitleTracks;
      textWant = all.find((t) => langMatch(t.lang, cfg.text.language) &&
        formatMatch(cfg.text.format, t.textCodec === 'stpp.ttml.im1t' ? 'application/ttml+xml' : 'text/vtt', t.textCodec));
      if (!textWant) {
        fail('hls.js: no subtitle track for ' + JSON.stringify(cfg.text) + ' among ' + JSON.stringify(all.map((t) => [t.lang, t.groupId, t.name, t.textCodec])));
        return;
      }
      const level = data.levels.findIndex((l) => (l.subtitleGroups || []).includes(textWant.groupId));
      if (level < 0) {
        fail('hls.js: no level references subtitle group ' + textWant.groupId);
        return;
      }
      if (!data.levels.every((l) => (l.subtitleGroups || []).includes(textWant.groupId))) {
        hls.startLevel = level;
        hls.loadLevel = level; // manual: ABR must not move to a level of another group
      }
      hls.subtitleDisplay = true;
      hls.setSubtitleOption({ lang: textWant.lang, name: textWant.name, groupId: textWant.groupId });
      state.textTrack = [textWant.lang, textWant.groupId, textWant.name, textWant.textCodec || 'text/vtt'].join(' ');
      note(state.events, 'text track wanted: ' + state.textTrack + ' (level ' + level + ')');
    });
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, (ev, data) => {
      if (!textWant) { return; }
      const i = data.subtitleTracks.findIndex((t) => t.groupId === textWant.groupId && t.name === textWant.name && t.lang === textWant.lang);
      if (i >= 0 && hls.subtitleTrack !== i) { hls.subtitleTrack = i; }
      note(state.events, 'subtitle tracks updated: ' + data.subtitleTracks.length + ', selected ' + hls.subtitleTrack);
    });
    hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, (ev, data) => note(state.events, 'subtitle track ' + data.id));
    hls.on(Hls.Events.LEVEL_SWITCHED, (ev, data) => note(state.events, 'level ' + data.level));
    hls.on(Hls.Events.LEVEL_LOADED, (ev, data) => {
      const ranges = (data.details && data.details.dateRanges) || {};
      for (const id of Object.keys(ranges)) { adMarker('hlsjs', id, ranges[id].class || '', ranges[id].startTime); }
    });
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
    for (const scheme of ['urn:scte:scte35:2014:xml+bin', 'urn:scte:scte35:2013:bin']) {
      player.on(scheme, (e) => {
        const x = e.event || {};
        adMarker('dashjs', x.id, scheme, x.calculatedPresentationTime);
      }, null, { mode: ev.EVENT_MODE_ON_RECEIVE });
    }
    player.updateSettings({ debug: { logLevel: cfg.debug ? dashjs.Debug.LOG_LEVEL_DEBUG : dashjs.Debug.LOG_LEVEL_WARNING } });
    if (cfg.player === 'dashjs-mss') {
      // A Smooth client manifest has no UTCTiming: synchronise on the Date
      // header of the manifest's server, not dash.js's default (a public
      // time server, unreachable from tests).
      player.updateSettings({ streaming: { utcSynchronization: { defaultTimingSource: {
        scheme: 'urn:mpeg:dash:utc:http-head:2014', value: new URL(cfg.manifest, location.href).href } } } });
    }
    if (cfg.text) {
      // dash.js picks the text adaptation set to stream when the stream is
      // built, from its initial media settings (language and codec), and
      // setTextTrack or setCurrentTrack once TEXT_TRACKS_ADDED has fired do
      // not change it (they only change which TextTrack shows). So find the
      // wanted adaptation set in the manifest as soon as it is loaded.
      const asArray = (x) => (Array.isArray(x) ? x : x ? [x] : []);
      player.on(ev.MANIFEST_LOADED, (e) => {
        const period = asArray(e.data && (e.data.Period || e.data.Period_asArray))[0] || {};
        const sets = asArray(period.AdaptationSet || period.AdaptationSet_asArray);
        for (const as of sets) {
          const rep = asArray(as.Representation || as.Representation_asArray)[0] || {};
          const mime = rep.mimeType || as.mimeType || '';
          const codecs = rep.codecs || as.codecs || '';
          const text = as.contentType === 'text' || mime.startsWith('text/') || /^(wvtt|stpp)/.test(codecs);
          if (text && langMatch(as.lang, cfg.text.language) && formatMatch(cfg.text.format, mime, codecs)) {
            const codec = mime + ';codecs="' + codecs + '"';
            player.setInitialMediaSettingsFor('text', { lang: as.lang, codec: codec });
            note(state.events, 'initial text settings: ' + as.lang + ' ' + codec);
            return;
          }
        }
        fail('dash.js: no text adaptation set for ' + JSON.stringify(cfg.text));
      });
      player.on(ev.TEXT_TRACKS_ADDED, (e) => {
        const i = e.tracks.findIndex((t) => langMatch(t.lang, cfg.text.language) && formatMatch(cfg.text.format, t.mimeType, t.codec));
        if (i < 0) {
          fail('dash.js: no text track for ' + JSON.stringify(cfg.text) + ' among ' + JSON.stringify(e.tracks.map((t) => [t.lang, t.mimeType, t.codec])));
          return;
        }
        const t = e.tracks[i];
        player.setTextTrack(i);
        player.enableText(true);
        state.textTrack = [t.lang, t.mimeType, t.codec, t.id].join(' ');
        note(state.events, 'text track selected: ' + state.textTrack + ' (index ' + i + ')');
      });
    }
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
    if (cfg.text) {
      // dash.js renders TTML (stpp) into an element of the page, as a web
      // page embedding it must provide; without one it shows no TTML.
      ttmlDiv = document.createElement('div');
      ttmlDiv.id = 'ttml';
      document.body.appendChild(ttmlDiv);
      player.attachTTMLRenderingDiv(ttmlDiv);
    }
    player.attachSource(cfg.manifest);
  }

  // isLive asks the player itself, besides video.duration === Infinity.
  function isLive(name) {
    const p = window.__ptPlayer;
    try {
      if (name === 'shaka') { return p.isLive(); }
      if (name.startsWith('dashjs')) { return p.isDynamic(); }
      if (name === 'hlsjs') {
        const d = p.latestLevelDetails || (p.levels[p.currentLevel] || {}).details;
        return !!(d && d.live);
      }
    } catch (e) { /* not ready */ }
    return false;
  }

  // liveLatency is how far (s) the playhead is behind the wall clock, from
  // the program date time the player maps it to; -1 when the player does
  // not say.
  function liveLatency(name) {
    const p = window.__ptPlayer;
    try {
      if (name === 'hlsjs' && p.playingDate) { return (Date.now() - p.playingDate.getTime()) / 1000; }
      if (name === 'shaka') {
        const d = p.getPlayheadTimeAsDate();
        if (d) { return (Date.now() - d.getTime()) / 1000; }
      }
      if (name.startsWith('dashjs')) {
        const l = p.getCurrentLiveLatency();
        if (Number.isFinite(l) && l > 0) { return l; }
      }
    } catch (e) { /* not ready */ }
    return -1;
  }

  // playLive: the player must report a live stream; once playback has
  // started (currentTime moved), it must advance at real-time speed (media
  // time against wall clock, within 20%) for minPlaySeconds of wall clock
  // with no 'waiting' event; the latency is sampled every second. No seek.
  async function playLive(cfg) {
    state.phase = 'starting live playback';
    const t0 = video.currentTime;
    if (!await waitFor('live playback to start', () => video.currentTime > t0 + 0.1, cfg.stepTimeoutMs)) { return; }
    state.live = video.duration === Infinity || isLive(cfg.player);
    note(state.events, 'live start: duration=' + video.duration + ' isLive=' + isLive(cfg.player) + ' at ' + video.currentTime.toFixed(3));
    if (!state.live) { fail('the player does not report a live stream (duration ' + video.duration + ')'); return; }
    state.phase = 'playing live';
    let stalls = 0;
    const onWaiting = () => { stalls++; note(state.events, 'stall at ' + video.currentTime.toFixed(3)); };
    video.addEventListener('waiting', onWaiting);
    const wall0 = performance.now();
    const media0 = video.currentTime;
    const lat = [];
    while (performance.now() - wall0 < cfg.minPlaySeconds * 1000) {
      if (state.errors.length) { video.removeEventListener('waiting', onWaiting); return; }
      await sleep(1000);
      const l = liveLatency(cfg.player);
      if (l >= 0) { lat.push(l); }
      state.reached = Math.max(state.reached, video.currentTime);
    }
    video.removeEventListener('waiting', onWaiting);
    const wall = (performance.now() - wall0) / 1000;
    state.wallPlayed = wall;
    state.mediaPlayed = video.currentTime - media0;
    state.stalls = stalls;
    state.latencies = lat;
    state.latency = lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : -1;
    const last = lat.slice(-5);
    state.finalLatency = last.length ? last.reduce((a, b) => a + b, 0) / last.length : -1;
    const q = video.getVideoPlaybackQuality();
    state.frames = q.totalVideoFrames;
    state.droppedFrames = q.droppedVideoFrames;
    const rate = state.mediaPlayed / wall;
    note(state.events, 'live: ' + state.mediaPlayed.toFixed(3) + 's of media in ' + wall.toFixed(3) + 's, ' + stalls + ' stalls, latency ' + state.latency.toFixed(3) + 's (final ' + state.finalLatency.toFixed(3) + 's, samples ' + lat.map((l) => l.toFixed(2)).join(' ') + ')');
    // As playertest.go's minLiveRate: below half speed, or faster than live.
    if (rate < 0.5 || rate > (cfg.lowLatency ? 1.5 : 1.2)) { fail('live playback advanced at ' + rate.toFixed(3) + '× real time'); return; }
    if (stalls > 0) { fail(stalls + ' stalls after start-up'); return; }
    state.phase = 'done';
    state.ok = state.errors.length === 0;
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
    for (const s of [].concat(src)) { await loadScript(s); }
    state.phase = 'loading manifest';
    if (cfg.player === 'shaka') { await startShaka(cfg); }
    if (cfg.player === 'hlsjs') { await startHlsjs(cfg); }
    if (cfg.player.startsWith('dashjs')) { await startDashjs(cfg); }
    if (state.errors.length) { return; }
    if (cfg.playbackRate) { video.playbackRate = cfg.playbackRate; video.defaultPlaybackRate = cfg.playbackRate; }
    if (cfg.text) { setInterval(collectCues, 100); }

    state.phase = 'starting playback';
    if (!await waitFor('metadata', () => video.readyState >= 1, cfg.stepTimeoutMs)) { return; }
    state.duration = video.duration;
    video.play().catch((e) => note(state.warnings, 'play(): ' + e));

    if (cfg.live) { await playLive(cfg); return; }

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

  performance.setResourceTimingBufferSize(5000);
  run().catch((e) => fail('harness: ' + (e && e.stack ? e.stack : String(e)))).finally(() => {
    collectCues();
    // What the page fetched from the test server, in order (the player
    // scripts under /_pt/ left out).
    for (const e of performance.getEntriesByType('resource')) {
      const u = new URL(e.name, location.href);
      if (u.origin === location.origin && !u.pathname.startsWith('/_pt/') && !u.pathname.startsWith('/_playertest/') && state.requests.length < 2000) {
        state.requests.push(u.pathname.slice(1));
      }
    }
    state.cues.sort((a, b) => a.start - b.start || a.end - b.end);
    if (video.error && !state.errors.some((e) => e.includes('video element error'))) { fail('video element error: ' + describeVideo()); }
    state.ok = state.ok && state.errors.length === 0;
    window.__ptResult = state;
  });
})();
