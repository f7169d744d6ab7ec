// Preview page logic for `cmafkit serve`: plays the manifest named in the
// page's data-manifest attribute with the embedded Shaka Player UI and shows
// player errors on the page instead of only in the console.
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
    } catch (err) {
      show(describe(err), true);
    }
  });
})();
