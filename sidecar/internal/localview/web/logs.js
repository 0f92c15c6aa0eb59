// Sidelight local view: a trace's OTLP log records, shown on the trace
// page beside its waterfall (app.js calls Sidelight.logsSection).
// Telemetry text only ever goes into text nodes, as in app.js.
'use strict';

(function () {
  const S = window.Sidelight;
  const h = S.h;
  const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

  // severityBadge shows the record's own severity text, else its level
  // (from the severity number), coloured by level.
  function severityBadge(r) {
    const level = LEVELS.includes(r.severity) ? r.severity : 'unset';
    const label = r.severity_text || r.severity || 'unset';
    return h('span', { class: 'sev sev-' + level, title: r.severity_number ? 'severity number ' + r.severity_number : 'no severity number' }, label);
  }

  // bodyText is a record's body as text: a string as it is, anything else
  // as JSON.
  function bodyText(b) {
    if (b === undefined || b === null) return '';
    return typeof b === 'string' ? b : JSON.stringify(b);
  }

  // spanCounts counts a trace's records per span ID, for the waterfall's
  // row tags.
  S.logSpanCounts = function (logs) {
    const m = new Map();
    for (const r of (logs && logs.records) || []) if (r.span_id) m.set(r.span_id, (m.get(r.span_id) || 0) + 1);
    return m;
  };

  // logsSection renders the records of one trace (the /api/traces/{id}/logs
  // answer) in time order, or returns null when there are none. links.has(spanID) says whether the waterfall
  // has that span's row; links.show(spanID) selects it.
  S.logsSection = function (logs, links) {
    const recs = (logs && logs.records) || [];
    if (!recs.length) return null; // a trace without records looks as it always did
    const sec = h('section', { id: 'trace-logs', class: 'log-panel' },
      h('h3', null, 'Logs ', h('span', { class: 'muted' }, logs.total > recs.length ? recs.length + ' of ' + logs.total : String(recs.length))));
    const body = h('tbody');
    for (const r of recs) {
      let span = null;
      if (r.span_id) {
        span = links && links.has(r.span_id)
          ? h('a', { href: '#', class: 'span-link mono', title: 'show this span in the waterfall', onclick: (ev) => { ev.preventDefault(); links.show(r.span_id); } }, r.span_id)
          : h('span', { class: 'mono muted', title: 'this span is not among the trace\u2019s received spans' }, r.span_id);
      }
      const attrs = S.isObject(r.attributes) ? Object.keys(r.attributes).map((k) => h('span', { class: 'chip', title: k + '=' + S.text(r.attributes[k]) }, k + '=' + S.clip(S.text(r.attributes[k]), 80))) : null;
      body.appendChild(h('tr', { class: 'log-row', 'data-severity': r.severity || '', 'data-span-id': r.span_id || '' },
        h('td', { class: 'nowrap mono' }, S.fmtTime(r.time)),
        h('td', null, severityBadge(r)),
        h('td', { class: 'nowrap' }, r.service || ''),
        h('td', { class: 'log-body' }, r.event_name ? h('span', { class: 'muted' }, r.event_name, ' ') : null, bodyText(r.body)),
        h('td', null, span),
        h('td', { class: 'log-attrs' }, attrs)));
    }
    sec.appendChild(h('table', { id: 'log-list', class: 'list log-table' },
      h('thead', null, h('tr', null, h('th', null, 'Time'), h('th', null, 'Severity'), h('th', null, 'Service'), h('th', null, 'Body'),
        h('th', null, 'Span'), h('th', null, 'Attributes'))), body));
    return sec;
  };

  // markLogs highlights the records of the selected span.
  S.markLogs = function (spanID) {
    for (const row of document.querySelectorAll('#log-list tr.log-row')) {
      row.classList.toggle('of-selected', !!spanID && row.getAttribute('data-span-id') === spanID);
    }
  };
})();
