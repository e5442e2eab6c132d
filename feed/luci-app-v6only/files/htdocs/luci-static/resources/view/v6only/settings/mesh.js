'use strict';
'require view';
'require form';

// Mesh monitor settings: /etc/config/mesh-monitor, each option with the type
// /etc/init.d/mesh-monitor validates it with. Applied with LuCI's apply and rollback; procd's
// reload trigger reloads the daemon (events and baselines are kept).

return view.extend({
	render: function() {
		const m = new form.Map('mesh-monitor', _('v6only: Mesh monitor'), _('What mesh-monitor watches and exports.'));
		const s = m.section(form.NamedSection, 'main', 'mesh-monitor');
		s.addremove = false;
		let o;
		o = s.option(form.Flag, 'enabled', _('Enabled')); o.default = '1'; o.rmempty = false;
		o = s.option(form.Value, 'interval', _('Poll interval (s)')); o.datatype = 'range(1,3600)'; o.placeholder = '10';
		o = s.option(form.DynamicList, 'interface', _('Mesh interfaces'), _('None: every mesh point')); o.datatype = 'and(hostname,maxlength(15))';
		o = s.option(form.Value, 'metric_threshold', _('Degraded above the best metric by (%)')); o.datatype = 'range(0,10000)'; o.placeholder = '50';
		o = s.option(form.Value, 'metric_max', _('Degraded above the metric')); o.datatype = 'uinteger'; o.placeholder = '0';
		o = s.option(form.Value, 'event_ring', _('Events kept')); o.datatype = 'range(0,4096)'; o.placeholder = '64';
		o = s.option(form.Value, 'prometheus_file', _('Prometheus file')); o.datatype = 'string';
		o = s.option(form.Value, 'topology_file', _('Topology file'), _('JSON, or Graphviz DOT when it ends in .dot; the Mesh page reads JSON')); o.datatype = 'string';
		o = s.option(form.Value, 'control_socket', _('Control socket')); o.datatype = 'string'; o.placeholder = '/var/run/mesh-monitor.sock';
		return m.render();
	}
});
