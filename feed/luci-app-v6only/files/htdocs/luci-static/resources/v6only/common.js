'use strict';
'require baseclass';
'require rpc';

// What every v6only page shares: the calls to the rpcd plugin luci.v6only (the daemons'
// own `status`, nat64's sessions, mesh-monitor's topology) and to procd (`service list`: is
// the service running), and small renderers.

const callStatus = rpc.declare({
	object: 'luci.v6only',
	method: 'status',
	expect: { daemons: {} }
});

const callSessions = rpc.declare({
	object: 'luci.v6only',
	method: 'nat64_sessions'
});

const callTopology = rpc.declare({
	object: 'luci.v6only',
	method: 'topology'
});

const callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	expect: { '': {} }
});

// A failed call (a daemon stopped, rpcd busy) leaves a page with what it has, not broken.
function soft(promise, fallback) {
	return promise.catch(function(e) {
		return fallback;
	});
}

return baseclass.extend({
	// The daemons in the order the pages show them, with their titles.
	daemons: [
		[ 'option108-dhcpd', _('DHCPv4 with option 108') ],
		[ 'dns64', _('DNS64') ],
		[ 'nat64', _('NAT64') ],
		[ 'ripng', _('RIPng') ],
		[ 'mesh-monitor', _('Mesh monitor') ]
	],

	status: function() {
		return soft(callStatus(), {});
	},

	// nat64's sessions: { total, truncated, sessions } or { error }.
	sessions: function() {
		return soft(callSessions(), { error: _('no answer from rpcd') });
	},

	topology: function() {
		return soft(callTopology(), { error: _('no answer from rpcd') });
	},

	services: function() {
		return soft(callServiceList(), {});
	},

	// The procd instance of a service: { running, pid } (running false when it has none).
	instance: function(services, name) {
		const insts = (services[name] || {}).instances || {};
		for (let k in insts)
			if (insts[k].running)
				return { running: true, pid: insts[k].pid };
		return { running: false, pid: null };
	},

	sum: function(list, key) {
		return (list || []).reduce(function(n, x) { return n + (+x[key] || 0); }, 0);
	},

	// A table of [label, value, id] rows; each value cell carries its id for tests and links.
	figures: function(rows) {
		return E('table', { 'class': 'table' }, rows.map(function(r) {
			return E('tr', { 'class': 'tr' }, [
				E('td', { 'class': 'td left', 'width': '50%' }, [ r[0] ]),
				E('td', { 'class': 'td left', 'id': r[2] || null }, [ (r[1] == null) ? '-' : String(r[1]) ])
			]);
		}));
	},

	// A table with a header row and rows of cells.
	table: function(id, head, rows, empty) {
		const t = E('table', { 'class': 'table', 'id': id }, [
			E('tr', { 'class': 'tr table-titles' }, head.map(function(h) {
				return E('th', { 'class': 'th' }, [ h ]);
			}))
		]);
		rows.forEach(function(r) {
			t.appendChild(E('tr', { 'class': 'tr', 'data-key': r.key || null }, r.cells.map(function(c) {
				return E('td', { 'class': 'td' }, [ (c == null) ? '-' : String(c) ]);
			})));
		});
		if (!rows.length)
			t.appendChild(E('tr', { 'class': 'tr placeholder' }, [
				E('td', { 'class': 'td', 'colspan': head.length }, [ E('em', [ empty ]) ])
			]));
		return t;
	},

	// The error a daemon's entry carries, or that it is not running.
	notRunning: function(entry) {
		return E('p', { 'class': 'v6o-error' }, [
			E('em', [ _('Not running: %s').format((entry && entry.error) || _('no answer')) ])
		]);
	}
});
