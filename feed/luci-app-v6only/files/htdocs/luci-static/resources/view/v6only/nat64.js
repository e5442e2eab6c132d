'use strict';
'require view';
'require poll';
'require dom';
'require v6only.common as common';

// NAT64 sessions: each session as `nat64 sessions --json` lists it (both ends, TCP state,
// timers), the session table's occupancy by protocol, the bindings, the IPv4 pool,
// translations and drops by reason, as `nat64 status` reports them, refreshed every 5 s.

// One row of the sessions table per session, keyed by its protocol and both ends.
function sessionRows(list) {
	return (list || []).map(function(x) {
		const client = '[%s]:%d'.format(x.ipv6, x.ipv6_port);
		const remote = '%s:%d'.format(x.remote, x.remote_port);
		return {
			key: '%s %s %s'.format(x.proto, client, remote),
			cells: [ x.proto, client, '%s:%d'.format(x.ipv4, x.ipv4_port) + (x.static ? ' (static)' : ''),
				remote, x.state, x.idle, x.expires_in ]
		};
	});
}

function load() {
	return Promise.all([ common.status(), common.sessions() ]);
}

return view.extend({
	load: load,

	update: function(box, data) {
		const daemons = data[0], list = data[1] || {};
		const entry = daemons.nat64 || {};
		const s = entry.status;
		if (!s) {
			dom.content(box, common.notRunning(entry));
			return;
		}
		const se = s.sessions || {}, tr = s.translations || {}, dr = s.drops || {};
		dom.content(box, [
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Sessions') ]),
				list.error ? E('p', { 'class': 'v6o-error' }, [ E('em', [ list.error ]) ]) :
				common.table('v6o-nat64-list', [ _('Protocol'), _('IPv6 client'), _('IPv4 pool'), _('IPv4 remote'),
					_('TCP state'), _('Idle (s)'), _('Expires in (s)') ], sessionRows(list.sessions), _('No sessions')),
				list.truncated ? E('p', { 'id': 'v6o-nat64-truncated' }, [
					E('em', [ _('The first %d of %d sessions shown.').format((list.sessions || []).length, list.total) ])
				]) : ''
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Occupancy') ]),
				common.table('v6o-nat64-sessions', [ _('Protocol'), _('Sessions') ], [ 'tcp', 'udp', 'icmp', 'total', 'max' ].map(function(p) {
					return { key: p, cells: [ (p == 'max') ? _('limit') : p, se[p] ] };
				}), ''),
				common.figures([
					[ _('Bindings (BIB entries)'), s.bindings, 'v6o-nat64-bindings' ],
					[ _('Prefix'), s.prefix, 'v6o-nat64-prefix' ],
					[ _('IPv4 pool'), (s.pool4 || []).join(', '), 'v6o-nat64-pool4' ],
					[ _('TUN device'), s.tun_device, 'v6o-nat64-tun' ]
				])
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Translations') ]),
				common.table('v6o-nat64-translations', [ _('Counter'), _('Packets') ], Object.keys(tr).map(function(k) {
					return { key: k, cells: [ k, tr[k] ] };
				}), '')
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Drops by reason') ]),
				common.table('v6o-nat64-drops', [ _('Reason'), _('Packets') ], Object.keys(dr).map(function(k) {
					return { key: k, cells: [ k, dr[k] ] };
				}), '')
			])
		]);
		box.setAttribute('data-refreshes', (+box.getAttribute('data-refreshes') || 0) + 1);
	},

	render: function(daemons) {
		const box = E('div', { 'id': 'v6o-nat64' });
		this.update(box, daemons);
		poll.add(L.bind(function() {
			return load().then(L.bind(this.update, this, box));
		}, this), 5);
		return E([], [ E('h2', [ _('v6only: NAT64 sessions') ]), box ]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
