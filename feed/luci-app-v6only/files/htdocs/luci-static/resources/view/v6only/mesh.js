'use strict';
'require view';
'require poll';
'require dom';
'require v6only.common as common';

// Mesh: mesh-monitor's topology export (nodes; peer links, paths and proxies as edges) drawn
// as an SVG graph, nodes on a circle, each edge labelled with its airtime metric; the same
// edges as a table below. Refreshed every 10 s.

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, text) {
	const el = document.createElementNS(NS, tag);
	for (let k in attrs)
		el.setAttribute(k, attrs[k]);
	if (text != null)
		el.appendChild(document.createTextNode(text));
	return el;
}

const NODE_FILL = { own: '#2a6ebb', peer: '#5cb85c', mesh: '#f0ad4e', proxied: '#999999' };
const EDGE_DASH = { link: '', path: '6,4', proxy: '2,3' };

function graph(t) {
	const nodes = t.nodes || [], edges = t.edges || [];
	const W = 720, H = 460, cx = W / 2, cy = H / 2, r = Math.min(W, H) / 2 - 70;
	const pos = {};
	nodes.forEach(function(n, i) {
		const a = 2 * Math.PI * i / Math.max(nodes.length, 1) - Math.PI / 2;
		pos[n.id] = nodes.length == 1 ? [ cx, cy ] : [ cx + r * Math.cos(a), cy + r * Math.sin(a) ];
	});
	const g = svg('svg', { 'id': 'v6o-mesh-graph', 'width': W, 'height': H, 'viewBox': '0 0 %d %d'.format(W, H),
		'style': 'max-width:100%;background:#fff;border:1px solid #ddd' });
	edges.forEach(function(e) {
		const a = pos[e.from], b = pos[e.to];
		if (!a || !b)
			return;
		const line = svg('line', { 'class': 'v6o-edge', 'data-from': e.from, 'data-to': e.to, 'data-kind': e.kind,
			'x1': a[0], 'y1': a[1], 'x2': b[0], 'y2': b[1], 'stroke': '#555', 'stroke-width': 2,
			'stroke-dasharray': EDGE_DASH[e.kind] || '' });
		g.appendChild(line);
		if (e.metric != null) {
			const mx = (a[0] + b[0]) / 2, my = (a[1] + b[1]) / 2;
			g.appendChild(svg('rect', { 'x': mx - 22, 'y': my - 11, 'width': 44, 'height': 16, 'fill': '#fff' }));
			g.appendChild(svg('text', { 'class': 'v6o-metric', 'data-from': e.from, 'data-to': e.to, 'data-kind': e.kind,
				'x': mx, 'y': my + 2, 'text-anchor': 'middle', 'font-size': 12 }, String(e.metric)));
		}
	});
	nodes.forEach(function(n) {
		const p = pos[n.id];
		g.appendChild(svg('circle', { 'class': 'v6o-node', 'data-id': n.id, 'data-kind': n.kind,
			'cx': p[0], 'cy': p[1], 'r': 14, 'fill': NODE_FILL[n.kind] || '#ccc', 'stroke': '#333' }));
		g.appendChild(svg('text', { 'x': p[0], 'y': p[1] + 30, 'text-anchor': 'middle', 'font-size': 11,
			'font-family': 'monospace' }, n.kind == 'own' ? '%s (%s)'.format(n.id, n.iface) : n.id));
	});
	return g;
}

return view.extend({
	load: function() {
		return common.topology();
	},

	update: function(box, res) {
		if (!res || !res.topology) {
			dom.content(box, E('p', { 'class': 'v6o-error' }, [
				E('em', [ _('No topology: %s').format((res && res.error) || _('no answer')) ])
			]));
		}
		else {
			const t = res.topology;
			dom.content(box, [
				E('p', [ _('From %s: %d nodes, %d edges. Solid: peer links, dashed: paths to the next hop, dotted: proxies; labels: airtime metric.')
					.format(res.source, (t.nodes || []).length, (t.edges || []).length) ]),
				graph(t),
				common.table('v6o-mesh-edges', [ _('From'), _('To'), _('Kind'), _('Interface'), _('Metric'), _('Peer link') ],
					(t.edges || []).map(function(e) {
						return { key: '%s %s %s'.format(e.kind, e.from, e.to), cells: [ e.from, e.to, e.kind, e.iface, e.metric, e.plink_state ] };
					}), _('No links'))
			]);
		}
		box.setAttribute('data-refreshes', (+box.getAttribute('data-refreshes') || 0) + 1);
	},

	render: function(res) {
		const box = E('div', { 'id': 'v6o-mesh' });
		this.update(box, res);
		poll.add(L.bind(function() {
			return common.topology().then(L.bind(this.update, this, box));
		}, this), 10);
		return E([], [ E('h2', [ _('v6only: Mesh') ]), box ]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
