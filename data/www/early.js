/* early.js: a classic script that starts fetching the site overview
 * while Chart.js and the dashboard's modules load (app.js takes the
 * answer; a reload fetches anew).  At a million cells the overview is
 * ~140 KB: fetching it in parallel brings the first heatmap forward. */
'use strict';
window.batsimEarly = {
  overview: fetch('overview', { cache: 'no-store', headers: { Accept: 'application/json' } }),
};
/* handled: app.js awaits it (and reports a failure) */
window.batsimEarly.overview.catch(() => {});
