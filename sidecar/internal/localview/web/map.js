// Sidelight local view: the service map. Nodes are the client (callers
// outside the traces), services, Lambda functions, and downstream remote
// and AWS calls; each links to the traces that pass through it. Layout:
// columns by longest distance from a source, rows ordered by their
// callers' positions to keep edges short; edge labels are drawn last, in
// the gap before their target, so no node hides them.
// Telemetry is only placed in the page as text (see app.js).
'use strict';

(function () {
  const SL = window.Sidelight;
  const { h, s, api, clear, fmtMS, main } = SL;
  const NW = 170, NH = 46, COL = 250, ROW = 64, PAD = 24;

  // nodeLink is the trace list of the traces through a node.
  function nodeLink(n) {
    switch (n.kind) {
      case 'client': return '#/traces';
      case 'remote': case 'aws': return '#/traces?call=' + encodeURIComponent(n.name);
      // service= matches a segment's name or the trace's root, which is
      // also an orphan function subsegment's.
      default: return '#/traces?service=' + encodeURIComponent(n.name);
    }
  }

  function layout(m) {
    const names = m.nodes.map((n) => n.name);
    const col = new Map(names.map((n) => [n, 0]));
    for (let i = 0; i < names.length; i++) {
      let changed = false;
      for (const e of m.edges) {
        if (e.from !== e.to && col.get(e.to) < col.get(e.from) + 1 && col.get(e.from) + 1 < names.length) {
          col.set(e.to, col.get(e.from) + 1);
          changed = true;
        }
      }
      if (!changed) break;
    }
    const columns = [];
    for (const n of m.nodes) {
      const c = col.get(n.name);
      (columns[c] = columns[c] || []).push(n);
    }
    // Order each column by the mean row of its callers (barycentre), so
    // that edges run mostly straight.
    const row = new Map();
    const callers = new Map(names.map((n) => [n, []]));
    for (const e of m.edges) if (e.from !== e.to) callers.get(e.to).push(e.from);
    columns.forEach((nodes, c) => {
      if (!nodes) return;
      if (c > 0) {
        const key = (n) => {
          const rs = callers.get(n.name).map((f) => row.get(f)).filter((r) => r !== undefined);
          return rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : Infinity;
        };
        nodes.sort((a, b) => key(a) - key(b) || a.name.localeCompare(b.name));
      }
      nodes.forEach((n, r) => row.set(n.name, r));
    });
    const tallest = Math.max(...columns.map((c) => (c || []).length));
    const pos = new Map();
    columns.forEach((nodes, c) => (nodes || []).forEach((n, r) => {
      // Shorter columns are centred against the tallest.
      const off = (tallest - nodes.length) * ROW / 2;
      pos.set(n.name, { x: PAD + c * COL, y: PAD + off + r * ROW });
    }));
    return { pos: pos, width: 2 * PAD + (columns.length - 1) * COL + NW, height: 2 * PAD + tallest * ROW };
  }

  async function mapView(params, gen) {
    let m;
    try {
      m = await api('/api/servicemap');
    } catch (e) {
      if (gen === SL.current()) SL.showError(e);
      return;
    }
    if (gen !== SL.current()) return;
    clear(main);
    main.appendChild(h('h2', null, 'Service map'));
    if (!m.nodes.length) {
      main.appendChild(SL.waitingForData(await api('/api/stats').catch(() => null), 'traces'));
      return;
    }
    main.appendChild(h('p', { class: 'muted' }, 'Built from ' + m.traces + ' traces. Click a node for its traces. ',
      h('span', { class: 'key kind-client' }, 'client'), ' ', h('span', { class: 'key kind-service' }, 'service'), ' ',
      h('span', { class: 'key kind-function' }, 'Lambda function'), ' ', h('span', { class: 'key kind-remote' }, 'remote / AWS call (not traced)')));
    const { pos, width, height } = layout(m);
    const svg = s('svg', { id: 'map-svg', class: 'map', viewBox: '0 0 ' + width + ' ' + height, width: width, height: height });
    svg.appendChild(s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '6', markerHeight: '6', orient: 'auto' },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' }))));
    const labels = [];
    for (const e of m.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      let d, lx, ly, anchor;
      if (b.x > a.x) {
        // Forward: a curve from the right side of a to the left side of b;
        // the label sits in the gap just before b.
        const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2;
        const mx = (x1 + x2) / 2;
        d = 'M' + x1 + ',' + y1 + ' C' + mx + ',' + y1 + ' ' + mx + ',' + y2 + ' ' + x2 + ',' + y2;
        lx = x2 - 6; ly = y2 - 5; anchor = 'end';
      } else {
        // Back or same column: a loop below.
        const x1 = a.x + NW / 2, y1 = a.y + NH, x2 = b.x + NW / 2, y2 = b.y + NH;
        d = 'M' + x1 + ',' + y1 + ' C' + x1 + ',' + (y1 + 40) + ' ' + x2 + ',' + (y2 + 40) + ' ' + x2 + ',' + y2;
        lx = (x1 + x2) / 2; ly = Math.max(y1, y2) + 26; anchor = 'middle';
      }
      svg.appendChild(s('path', { d: d, class: 'edge' + (e.error_rate > 0 ? ' bad' : ''), 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to },
        s('title', null, e.from + ' → ' + e.to + ': ' + e.count + ' calls, ' + (e.error_rate * 100).toFixed(1) + '% errors, avg ' + fmtMS(e.avg_ms))));
      labels.push(s('text', { x: lx, y: ly, class: 'edge-label', 'text-anchor': anchor, 'data-from': e.from, 'data-to': e.to },
        e.count + (e.error_rate > 0 ? ' · ' + (e.error_rate * 100).toFixed(0) + '%' : '')));
    }
    for (const n of m.nodes) {
      const p = pos.get(n.name);
      const cls = n.kind === 'client' ? 'ok' : n.fault_rate > 0 ? 'fault' : n.error_rate > 0 ? 'error' : 'ok';
      const stats = n.kind === 'client' ? n.count + ' requests' : n.count + ' · ' + fmtMS(n.avg_ms) + ' · ' + (n.error_rate * 100).toFixed(0) + '% err';
      svg.appendChild(s('a', { href: nodeLink(n), class: 'node st-' + cls + ' kind-' + (n.kind || 'service'), 'data-name': n.name },
        s('title', null, n.name + ' (' + n.kind + ')'),
        s('rect', { x: p.x, y: p.y, width: NW, height: NH, rx: n.kind === 'client' ? NH / 2 : n.kind === 'function' ? 12 : n.kind === 'service' ? 6 : 2 }),
        s('text', { x: p.x + 8, y: p.y + 18, class: 'node-name' }, (n.kind === 'function' ? 'λ ' : '') + (n.name.length > 22 ? n.name.slice(0, 21) + '…' : n.name)),
        s('text', { x: p.x + 8, y: p.y + 35, class: 'node-stats' }, stats)));
    }
    // Labels last: above every node and edge.
    for (const l of labels) svg.appendChild(l);
    main.appendChild(h('div', { class: 'map-wrap' }, svg));
    main.appendChild(h('h3', null, 'Nodes'));
    main.appendChild(h('table', { class: 'list', id: 'map-nodes' },
      h('thead', null, h('tr', null, ['Name', 'Kind', 'Count', 'Error rate', 'Fault rate', 'Avg'].map((x) => h('th', null, x)))),
      h('tbody', null, m.nodes.map((n) => h('tr', null, h('td', null, h('a', { href: nodeLink(n) }, n.name)), h('td', null, n.kind),
        h('td', { class: 'num' }, String(n.count)), h('td', { class: 'num' }, (n.error_rate * 100).toFixed(1) + '%'),
        h('td', { class: 'num' }, (n.fault_rate * 100).toFixed(1) + '%'), h('td', { class: 'num' }, fmtMS(n.avg_ms)))))));
    main.appendChild(h('h3', null, 'Edges'));
    main.appendChild(h('table', { class: 'list', id: 'map-edges' },
      h('thead', null, h('tr', null, ['From', 'To', 'Calls', 'Error rate', 'Avg'].map((x) => h('th', null, x)))),
      h('tbody', null, m.edges.map((e) => h('tr', null, h('td', null, e.from), h('td', null, e.to), h('td', { class: 'num' }, String(e.count)),
        h('td', { class: 'num' }, (e.error_rate * 100).toFixed(1) + '%'), h('td', { class: 'num' }, fmtMS(e.avg_ms)))))));
  }

  SL.views['/map'] = mapView;
})();
