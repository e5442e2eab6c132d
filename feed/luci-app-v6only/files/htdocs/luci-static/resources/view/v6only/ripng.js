'use strict';
'require view';
'require poll';
'require dom';
'require v6only.common as common';

// RIPng routes: the route table, the neighbours and the interfaces of `ripng status`,
// refreshed every 5 s. Route rows carry their prefix (data-key).

return view.extend({
	load: function() {
		return common.status();
	},

	update: function(box, daemons) {
		const entry = daemons.ripng || {};
		const s = entry.status;
		if (!s) {
			dom.content(box, common.notRunning(entry));
			return;
		}
		dom.content(box, [
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Routes') ]),
				common.table('v6o-ripng-routes',
					[ _('Prefix'), _('Metric'), _('Source'), _('Next hop'), _('Interface'), _('State'), _('Age (s)') ],
					(s.routes || []).map(function(r) {
						return { key: r.prefix, cells: [ r.prefix, r.metric, r.source, r.next_hop || '-', r.interface || '-', r.state, r.age_s ] };
					}), _('No routes'))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Neighbours') ]),
				common.table('v6o-ripng-neighbors',
					[ _('Address'), _('Interface'), _('Last heard (s)'), _('Routes'), _('Bad packets'), _('Bad routes') ],
					(s.neighbors || []).map(function(n) {
						return { key: n.address, cells: [ n.address, n.interface, n.last_heard_s, n.routes, n.bad_packets, n.bad_routes ] };
					}), _('No neighbours'))
			]),
			E('div', { 'class': 'cbi-section' }, [
				E('h3', [ _('Interfaces') ]),
				common.table('v6o-ripng-interfaces',
					[ _('Name'), _('Up'), _('Passive'), _('Cost'), _('Split horizon'), _('Neighbours') ],
					(s.interfaces || []).map(function(i) {
						return { key: i.name, cells: [ i.name, i.up ? _('yes') : _('no'), i.passive ? _('yes') : _('no'), i.cost, i.split_horizon, i.neighbors ] };
					}), _('No interfaces'))
			])
		]);
		box.setAttribute('data-refreshes', (+box.getAttribute('data-refreshes') || 0) + 1);
	},

	render: function(daemons) {
		const box = E('div', { 'id': 'v6o-ripng' });
		this.update(box, daemons);
		poll.add(L.bind(function() {
			return common.status().then(L.bind(this.update, this, box));
		}, this), 5);
		return E([], [ E('h2', [ _('v6only: RIPng routes') ]), box ]);
	},

	handleSaveApply: null,
	handleSave: null,
	handleReset: null
});
