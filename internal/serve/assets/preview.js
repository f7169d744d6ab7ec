// Preview page logic for `cmafkit serve` and `cmafkit live`: plays the
// manifest named in the page's data-manifest attribute with the embedded
// Shaka Player UI, shows player errors on the page instead of only in the
// console, and charts a live stream's segments and health.
(function () {
  'use strict';
  const status = document.getElementById('status');
  function show(msg, isError) {
    status.textContent = msg;
    status.className = isError ? 'error' : '';
  }
  function describe(err) {
    if (err && err.code !== undefined) {
      return 'Shaka error ' + err.code + ' (category ' + err.category + ', severity ' +
        err.severity + ')' + (err.data && err.data.length ? ': ' + JSON.stringify(err.data) : '');
    }
    return String(err);
  }
  // liveCharts shows, under the player of a `cmafkit live` stream, the
  // ingest's health and per rendition the bit rate and duration of each
  // segment in the window (a dashed line where a period, a discontinuity,
  // begins; durations over the target in red), from the state the command
  // serves. Other servers have no such file: nothing is shown.
  function liveCharts() {
    const url = '/_live/status.json';
    const box = document.createElement('div');
    box.id = 'live';
    status.after(box);
    const svgNS = 'http://www.w3.org/2000/svg';
    function el(name, attrs, parent) {
      const e = document.createElementNS(svgNS, name);
      for (const k in attrs) { e.setAttribute(k, attrs[k]); }
      parent.appendChild(e);
      return e;
    }
    function chart(title, segs, value, max, over, fmt) {
      const w = 480, h = 60;
      const fig = document.createElement('figure');
      fig.style.margin = '.4rem 0';
      const cap = document.createElement('figcaption');
      cap.style.fontSize = '.8rem';
      fig.appendChild(cap);
      const svg = el('svg', { width: w, height: h, viewBox: '0 0 ' + w + ' ' + h }, fig);
      el('rect', { x: 0, y: 0, width: w, height: h, fill: '#f4f4f4' }, svg);
      if (segs.length) {
        const t0 = segs[0].start, t1 = segs[segs.length - 1].start + segs[segs.length - 1].duration;
        const sx = w / Math.max(t1 - t0, 1e-3);
        let last = '';
        for (const s of segs) {
          const v = value(s), bh = Math.min(h, h * v / (max || 1));
          const r = el('rect', { x: (s.start - t0) * sx, y: h - bh, width: Math.max(s.duration * sx - 1, 1), height: bh,
            fill: over(s) ? '#b00020' : '#4a78c2' }, svg);
          el('title', {}, r).textContent = '#' + s.number + ': ' + fmt(v);
          if (last && s.period !== last) {
            el('line', { x1: (s.start - t0) * sx, x2: (s.start - t0) * sx, y1: 0, y2: h, stroke: '#000', 'stroke-dasharray': '3,3' }, svg);
          }
          last = s.period;
        }
      }
      cap.textContent = title;
      return fig;
    }
    async function update() {
      let st;
      try {
        const resp = await fetch(url, { cache: 'no-store' });
        if (!resp.ok) { box.remove(); return; }
        st = await resp.json();
      } catch (e) { setTimeout(update, 5000); return; }
      const s = st.stats;
      const health = document.createElement('p');
      health.style.fontSize = '.9rem';
      health.textContent = (st.publishing > 0 ? 'publishing' : 'no publisher') + ' · ' + s.Segments + ' segments · ' +
        s.Discontinuities + ' discontinuities · ' + s.Rejected + ' samples refused · ' + s.Dropped + ' dropped · ' +
        s.Misaligned + ' misaligned · ' + s.Errors + ' errors';
      if (s.Rejected + s.Errors + s.Misaligned > 0) { health.style.color = '#b00020'; }
      const parts = [health];
      for (const r of st.renditions) {
        const maxRate = Math.max.apply(null, r.segments.map(function (x) { return x.bitrate; }).concat([1]));
        parts.push(chart(r.id + ' bit rate (max ' + Math.round(maxRate / 1000) + ' kbit/s)', r.segments,
          function (x) { return x.bitrate; }, maxRate, function () { return false; },
          function (v) { return Math.round(v / 1000) + ' kbit/s'; }));
        parts.push(chart(r.id + ' segment durations (target ' + st.targetDuration + ' s)', r.segments,
          function (x) { return x.duration; }, st.targetDuration, function (x) { return x.duration > st.targetDuration; },
          function (v) { return v.toFixed(3) + ' s'; }));
      }
      box.replaceChildren.apply(box, parts);
      setTimeout(update, 2000);
    }
    update();
  }
  document.addEventListener('shaka-ui-load-failed', function (ev) {
    show('This browser cannot play through Media Source Extensions (' + ev.detail.reasonCode + ').', true);
  });
  document.addEventListener('shaka-ui-loaded', async function () {
    const src = document.body.dataset.manifest;
    if (!src) { return; }
    const video = document.getElementById('video');
    const player = video.ui.getControls().getPlayer();
    window.cmafkitPlayer = player; // handy from the developer console
    player.addEventListener('error', function (ev) { show(describe(ev.detail), true); });
    show('Loading ' + src + ' …', false);
    try {
      await player.load(src);
      const tracks = player.getVariantTracks().map(function (t) {
        return (t.width ? t.width + 'x' + t.height + ' ' : '') + Math.round(t.bandwidth / 1000) + ' kbit/s ' +
          [t.videoCodec, t.audioCodec].filter(Boolean).join(', ');
      });
      show('Loaded ' + src + ': ' + tracks.length + ' variant(s): ' + tracks.join(' | '), false);
      if (player.isLive()) { liveCharts(); }
    } catch (err) {
      show(describe(err), true);
    }
  });
})();
