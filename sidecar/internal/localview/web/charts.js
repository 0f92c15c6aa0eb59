// Sidelight local view: the metrics page. Charts are grouped by metric;
// the series of a group can be split by one dimension or summed into
// one, series that are zero throughout are folded away, the charts of a
// group share one time axis, and a point's details show beside its group.
// A dashed vertical line marks when a new version of the series' service
// first appeared (the store's deployment markers).
// Telemetry is only placed in the page as text (see app.js).
'use strict';

(function () {
  const SL = window.Sidelight;
  const { h, s, api, clear, fmtTime, fmtNum, main } = SL;

  // Folds the user opened, by group, across live refreshes.
  const unfolded = new Set();
  // The point shown beside each group, across live refreshes.
  const selected = new Map();

  async function metricsView(params, gen, refresh) {
    const q = new URLSearchParams();
    if (params.get('bucket')) q.set('bucket', params.get('bucket'));
    const groupParam = params.get('group');
    let m, st;
    try {
      // The dimension keys decide the default grouping: by Service when
      // the documents carry it.
      let deps;
      [m, st, deps] = await Promise.all([api('/api/metrics?' + q.toString()), api('/api/stats'), api('/api/deployments')]);
      const group = groupParam === null ? defaultGroup(m) : groupParam;
      if (group) {
        q.set('group', group);
        m = await api('/api/metrics?' + q.toString());
      }
      m.deployments = (deps && deps.deployments) || [];
    } catch (e) {
      if (gen === SL.current()) SL.showError(e);
      return;
    }
    if (gen !== SL.current()) return;
    const old = document.getElementById('charts');
    if (refresh && old && m.series.length && document.getElementById('metric-filters')) {
      // Keep the form as the user left it; replace the charts.
      old.replaceWith(chartsView(params, m));
      document.getElementById('metrics-summary').textContent = summaryText(m);
      return;
    }
    clear(main);
    main.appendChild(h('h2', null, 'Metrics'));
    if (!m.series.length && !params.get('namespace') && !params.get('metric')) {
      main.appendChild(metricsForm(params, m));
      main.appendChild(SL.waitingForData(st, 'EMF metrics'));
      SL.refreshStats();
      return;
    }
    main.appendChild(h('p', { class: 'muted', id: 'metrics-summary' }, summaryText(m)));
    main.appendChild(metricsForm(params, m));
    main.appendChild(chartsView(params, m));
    SL.refreshStats();
  }

  function summaryText(m) {
    return m.series.length + ' series from EMF · ' + m.bucket_seconds + ' s buckets · ' +
      (m.group === '*' ? 'summed' : m.group ? 'by ' + m.group : 'each series') + '. ' +
      'Latency shows p50, p90 and p99; counts the sum per bucket. Click a point for its values and traces.';
  }

  function chartsView(params, m) {
    const ns = params.get('namespace') || '', metric = params.get('metric') || '', dimText = (params.get('dim') || '').toLowerCase();
    const shown = m.series.filter((se) => (!ns || se.namespace === ns) && (!metric || se.name === metric) &&
      (!dimText || se.dimensions.some((d) => (d.key + '=' + d.value).toLowerCase().includes(dimText))));
    const all = h('div', { id: 'charts' });
    if (!shown.length) all.appendChild(h('p', { class: 'muted' }, 'No series match.'));
    // Groups: one per metric (namespace, name, unit).
    const groups = new Map();
    for (const se of shown) {
      const k = se.namespace + '\u0000' + se.name + '\u0000' + (se.unit || '');
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(se);
    }
    for (const [k, list] of groups) all.appendChild(groupView(k, list, m));
    return all;
  }

  const defaultGroup = (m) => (m.dimension_keys.includes('Service') ? 'Service' : '');

  const isZero = (se) => se.points.every((p) => p.sum === 0 && p.max === 0);

  function groupView(key, list, m) {
    const first = list[0];
    const live = list.filter((se) => !isZero(se));
    const zero = list.filter(isZero);
    const detail = h('aside', { class: 'point-traces detail', 'aria-live': 'polite' },
      h('p', { class: 'muted' }, 'Click a point for its values and the traces behind it.'));
    const charts = h('div', { class: 'charts' });
    const show = (se) => charts.appendChild(chart(key, se, m, detail));
    live.forEach(show);
    if (zero.length) {
      const open = unfolded.has(key);
      if (open) zero.forEach(show);
      charts.appendChild(h('button', {
        type: 'button', class: 'fold', 'data-zero': String(zero.length),
        onclick: () => { if (unfolded.has(key)) unfolded.delete(key); else unfolded.add(key); SL.rerender(); },
      }, open ? 'hide the ' + zero.length + ' series that are zero throughout'
        : '+ ' + zero.length + ' series with only zeros'));
    }
    const sel = selected.get(key);
    if (sel) {
      const se = list.find((x) => seriesKey(x) === sel.series);
      const p = se && se.points.find((x) => x.t === sel.t);
      if (p) showPoint(key, se, p, detail, m);
    }
    return h('section', { class: 'metric-group', 'data-metric': first.name },
      h('h3', null, first.name, first.unit ? h('span', { class: 'muted' }, ' (' + first.unit + ')') : null, ' ',
        h('span', { class: 'muted ns' }, first.namespace), ' ', h('span', { class: 'muted count' }, list.length + ' series')),
      h('div', { class: 'group-body' }, charts, detail));
  }

  const seriesKey = (se) => se.dimensions.map((d) => d.key + '=' + d.value).join(',');

  function chart(groupKey, se, m, detail) {
    const W = 380, H = 150, L = 48, R = 8, B = 20, T = 8;
    const pts = se.points;
    const latency = se.kind === 'latency';
    const keys = latency ? ['p50', 'p90', 'p99'] : ['sum'];
    const bucketMS = m.bucket_seconds * 1000;
    // The shared axis: the whole response's span.
    const lo = m.start, hi = Math.max(m.end, m.start + bucketMS);
    let ymax = 0;
    for (const p of pts) for (const k of keys) ymax = Math.max(ymax, p[k]);
    if (ymax <= 0) ymax = 1;
    const xspan = hi - lo;
    const slot = (W - L - R) * bucketMS / xspan;
    const x = (t) => L + (t - lo) / xspan * (W - L - R) + slot / 2;
    const y = (v) => H - B - v / ymax * (H - B - T);
    const svg = s('svg', { class: 'chart', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H });
    svg.appendChild(s('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }));
    svg.appendChild(s('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }));
    svg.appendChild(s('text', { x: L - 6, y: T + 4, class: 'ylabel' }, fmtNum(ymax)));
    svg.appendChild(s('text', { x: L - 6, y: H - B, class: 'ylabel' }, '0'));
    svg.appendChild(s('text', { x: L, y: H - 5, class: 'xlabel' }, fmtTime(lo / 1000).slice(0, 8)));
    svg.appendChild(s('text', { x: W - R, y: H - 5, class: 'xlabel end' }, fmtTime(hi / 1000).slice(0, 8)));
    // Deployment markers: when a version of the series' service (or of
    // any service, for series without one) first appeared in the traffic.
    const svcDim = se.dimensions.find((d) => d.key === 'Service');
    for (const d of m.deployments || []) {
      const t = d.first_seen * 1000;
      if (t < lo || t > hi || (svcDim && d.service !== svcDim.value)) continue;
      const dx = L + (t - lo) / xspan * (W - L - R);
      svg.appendChild(s('line', { x1: dx, y1: T, x2: dx, y2: H - B, class: 'deploy-marker', 'data-version': d.version },
        s('title', null, d.service + ' ' + d.version + ' first seen ' + fmtTime(d.first_seen) +
          (d.previous ? ' (after ' + d.previous + ')' : ''))));
    }
    if (latency) {
      keys.forEach((k, i) => {
        svg.appendChild(s('polyline', { class: 'line l' + i, points: pts.map((p) => x(p.t).toFixed(1) + ',' + y(p[k]).toFixed(1)).join(' ') }));
      });
    } else {
      const bw = Math.max(2, Math.min(30, slot * 0.8));
      for (const p of pts) svg.appendChild(s('rect', { x: x(p.t) - bw / 2, y: y(p.sum), width: bw, height: H - B - y(p.sum), class: 'barv' }));
    }
    for (const p of pts) {
      svg.appendChild(s('circle', {
        cx: x(p.t), cy: y(latency ? p.p99 : p.sum), r: p.trace_ids.length ? 4.5 : 3.5,
        class: 'pt' + (p.trace_ids.length ? ' linked' : ''), tabindex: '0', 'data-t': String(p.t),
        onclick: () => select(groupKey, se, p, detail, m),
        onkeydown: (ev) => { if (ev.key === 'Enter') select(groupKey, se, p, detail, m); },
      }, s('title', null, fmtTime(p.t / 1000) + ': ' + (latency
        ? 'p50 ' + fmtNum(p.p50) + ', p90 ' + fmtNum(p.p90) + ', p99 ' + fmtNum(p.p99)
        : 'sum ' + fmtNum(p.sum)) + ' · ' + p.trace_ids.length + ' traces')));
    }
    const dims = se.dimensions.map((d) => d.key + '=' + d.value).join(', ');
    return h('figure', { class: 'chart-card', 'data-metric': se.name, 'data-series': seriesKey(se) },
      h('figcaption', null, h('span', { class: 'dims' }, dims || (m.group === '*' ? 'all series summed' : 'no dimensions')),
        latency ? h('span', { class: 'legend' }, h('span', { class: 'k l0' }, 'p50'), h('span', { class: 'k l1' }, 'p90'), h('span', { class: 'k l2' }, 'p99'))
          : h('span', { class: 'legend muted' }, ' sum per ' + m.bucket_seconds + ' s')),
      svg);
  }

  function select(groupKey, se, p, detail, m) {
    selected.set(groupKey, { series: seriesKey(se), t: p.t });
    showPoint(groupKey, se, p, detail, m);
  }

  function showPoint(groupKey, se, p, detail, m) {
    clear(detail);
    const dims = se.dimensions.map((d) => d.key + '=' + d.value).join(', ');
    detail.appendChild(h('h4', null, se.name, ' at ', fmtTime(p.t / 1000)));
    if (dims) detail.appendChild(h('p', { class: 'muted' }, dims));
    const vals = { values: p.n, sum: fmtNum(p.sum), 'per second': fmtNum(p.sum / m.bucket_seconds), min: fmtNum(p.min), max: fmtNum(p.max) };
    if (se.kind === 'latency') Object.assign(vals, { p50: fmtNum(p.p50), p90: fmtNum(p.p90), p99: fmtNum(p.p99) });
    detail.appendChild(SL.kvTable(vals));
    detail.appendChild(p.trace_ids.length
      ? h('ul', { class: 'linked-traces' }, p.trace_ids.map((id) => h('li', null, h('a', { href: '#/trace/' + encodeURIComponent(id), class: 'mono' }, id))))
      : h('p', { class: 'muted' }, 'No trace IDs were carried with these values.'));
  }

  function metricsForm(params, m) {
    const uniq = (xs) => [...new Set(xs)].sort();
    const select = (name, label, values) => {
      const el = h('select', { name: name, id: 'm-' + name }, h('option', { value: '' }, label), values.map((v) => h('option', { value: v }, v)));
      el.value = params.get(name) || '';
      return el;
    };
    const ns = select('namespace', 'all namespaces', uniq(m.series.map((se) => se.namespace)));
    const metric = select('metric', 'all metrics', uniq(m.series.map((se) => se.name)));
    const group = h('select', { name: 'group', id: 'm-group', title: 'Split each metric by a dimension, or sum its series' },
      h('option', { value: '' }, 'each series'), h('option', { value: '*' }, 'sum of all series'),
      m.dimension_keys.map((k) => h('option', { value: k }, 'by ' + k)));
    group.value = m.group || '';
    const bucket = h('select', { name: 'bucket', id: 'm-bucket' }, [['', 'auto buckets'], ['1', '1 s'], ['10', '10 s'], ['60', '1 min'], ['300', '5 min'], ['3600', '1 h']]
      .map(([v, l]) => h('option', { value: v }, l)));
    bucket.value = params.get('bucket') || '';
    const dim = h('input', { name: 'dim', id: 'm-dim', placeholder: 'dimension contains…', value: params.get('dim') || '' });
    const submit = () => {
      const q = new URLSearchParams();
      for (const el of [ns, metric, bucket, dim]) if (el.value) q.set(el.name, el.value);
      if (group.value !== defaultGroup(m)) q.set('group', group.value);
      location.hash = '#/metrics?' + q.toString();
    };
    // Changing the grouping applies at once.
    group.addEventListener('change', submit);
    return h('form', {
      class: 'filters', id: 'metric-filters',
      onsubmit: (ev) => { ev.preventDefault(); submit(); },
    }, ns, metric, group, dim, bucket, h('button', { type: 'submit' }, 'Show'));
  }

  SL.views['/metrics'] = metricsView;
})();
