'use strict';
'require view';
'require poll';
'require dom';
'require v6only.common as common';

// NAT64 sessions: the session table's occupancy by protocol, the bindings, the IPv4 pool,
// translations and drops by reason, as `nat64 status` reports them, refreshed every 5 s.

return view.extend({
	load: function() {
		return common.status();
	},

	update: function(box, daemons) {
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
			return common.status().then(L.bind(this.update, this, box));
		}, this), 5);
		return E([], [ E('h2', [ _('v6only: NAT64 sessions') ]), box ]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
