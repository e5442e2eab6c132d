'use strict';
'require view';
'require poll';
'require dom';
'require v6only.common as common';

// Overview: for each installed daemon, whether procd runs it, its uptime and the figures of
// its own `status`, refreshed every 5 s. Figure cells have ids v6o-<daemon>-<figure>.

function nat64Drops(s) {
	const d = s.drops || {};
	return Object.keys(d).reduce(function(n, k) { return n + (+d[k] || 0); }, 0);
}

function nat64DropList(s) {
	const d = s.drops || {};
	const out = Object.keys(d).filter(function(k) { return d[k] > 0; })
		.map(function(k) { return '%s %d'.format(k, d[k]); });
	return out.length ? out.join(', ') : _('none');
}

// [label, value, figure name] per daemon, from its status JSON
const FIGURES = {
	'option108-dhcpd': function(s) {
		return [
			[ _('Pools'), (s.pools || []).length, 'pools' ],
			[ _('IPv6-only clients'), common.sum(s.pools, 'ipv6_only_clients'), 'ipv6_only_clients' ],
			[ _('IPv4 addresses saved (not handed to IPv6-only clients)'), common.sum(s.pools, 'ipv6_only_clients'), 'ipv4_saved' ],
			[ _('Active leases'), common.sum(s.pools, 'active_leases'), 'active_leases' ],
			[ _('Free addresses'), common.sum(s.pools, 'free'), 'free' ],
			[ _('Answers with option 108'), (s.counters || {}).ipv6_only, 'ipv6_only' ],
			[ _('DISCOVER / REQUEST received'), '%d / %d'.format((s.counters || {}).discovers, (s.counters || {}).requests), 'discovers_requests' ],
			[ _('ACKs sent'), (s.counters || {}).acks, 'acks' ]
		];
	},
	'dns64': function(s) {
		return [
			[ _('Queries'), s.queries, 'queries' ],
			[ _('AAAA synthesized'), s.synthesized, 'synthesized' ],
			[ _('PTR synthesized'), s.ptr_synthesized, 'ptr_synthesized' ],
			[ _('Cache hits'), s.cache_hits, 'cache_hits' ],
			[ _('Cache misses'), s.cache_misses, 'cache_misses' ],
			[ _('Upstream failures / timeouts'), '%d / %d'.format(s.upstream_failures, s.upstream_timeouts), 'upstream_errors' ],
			[ _('Upstreams'), (s.upstreams || []).join(', ') || '-', 'upstreams' ]
		];
	},
	'nat64': function(s) {
		const se = s.sessions || {}, tr = s.translations || {};
		return [
			[ _('Prefix'), s.prefix, 'prefix' ],
			[ _('Sessions (TCP / UDP / ICMP)'), '%d (%d / %d / %d)'.format(se.total, se.tcp, se.udp, se.icmp), 'sessions' ],
			[ _('Translations IPv6 → IPv4'), tr.v6_to_v4, 'v6_to_v4' ],
			[ _('Translations IPv4 → IPv6'), tr.v4_to_v6, 'v4_to_v6' ],
			[ _('Drops'), nat64Drops(s), 'drops' ],
			[ _('Drops by reason'), nat64DropList(s), 'drop_reasons' ]
		];
	},
	'ripng': function(s) {
		const routes = s.routes || [];
		return [
			[ _('Interfaces'), (s.interfaces || []).length, 'interfaces' ],
			[ _('Neighbours'), (s.neighbors || []).length, 'neighbors' ],
			[ _('Routes'), routes.filter(function(r) { return r.state == 'valid'; }).length, 'routes' ],
			[ _('Routes in the kernel'), (s.kernel || {}).installed, 'installed' ]
		];
	},
	'mesh-monitor': function(s) {
		return [
			[ _('State'), s.state, 'state' ],
			[ _('Mesh interfaces'), (s.interfaces || []).length, 'interfaces' ],
			[ _('Peers'), (s.stations || []).length, 'peers' ],
			[ _('Paths'), (s.paths || []).length, 'paths' ],
			[ _('Polls'), s.polls, 'polls' ]
		];
	}
};

return view.extend({
	load: function() {
		return Promise.all([ common.status(), common.services() ]);
	},

	section: function(name, title, entry, services) {
		const inst = common.instance(services, name);
		const s = entry.status;
		const id = function(f) { return 'v6o-%s-%s'.format(name, f); };
		const head = common.figures([
			[ _('Service'), inst.running ? _('running') : _('stopped'), id('running') ],
			[ _('PID'), inst.running ? inst.pid : null, id('pid') ],
			[ _('Uptime'), s ? '%t'.format(s.uptime) : null, id('uptime') ]
		]);
		const body = s
			? common.figures(FIGURES[name](s).map(function(f) { return [ f[0], f[1], id(f[2]) ]; }))
			: common.notRunning(entry);
		return E('div', { 'class': 'cbi-section', 'id': 'v6o-' + name }, [
			E('h3', [ title ]), head, body
		]);
	},

	update: function(box, daemons, services) {
		const parts = [];
		common.daemons.forEach(L.bind(function(d) {
			if (daemons[d[0]])
				parts.push(this.section(d[0], d[1], daemons[d[0]], services));
		}, this));
		if (!parts.length)
			parts.push(E('p', [ E('em', [ _('None of the v6only daemons is installed.') ]) ]));
		dom.content(box, parts);
		// the number of refreshes so far, for whoever waits for fresh figures
		box.setAttribute('data-refreshes', (+box.getAttribute('data-refreshes') || 0) + 1);
	},

	render: function(data) {
		const box = E('div', { 'id': 'v6o-overview' });
		this.update(box, data[0], data[1]);
		poll.add(L.bind(function() {
			return Promise.all([ common.status(), common.services() ]).then(L.bind(function(d) {
				this.update(box, d[0], d[1]);
			}, this));
		}, this), 5);
		return E([], [
			E('h2', [ _('v6only: Overview') ]),
			E('div', { 'class': 'cbi-map-descr' }, [
				_('The IPv6-only network: each daemon as procd runs it and as its own status reports, refreshed every 5 seconds.')
			]),
			box
		]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
