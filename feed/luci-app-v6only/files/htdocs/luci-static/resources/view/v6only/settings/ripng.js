'use strict';
'require view';
'require form';

// RIPng settings: /etc/config/ripng (timers and kernel settings, interfaces, what is
// redistributed, filters), each option with the type /etc/init.d/ripng validates it with.
// Applied with LuCI's apply and rollback; procd's reload trigger reloads the daemon.

return view.extend({
	render: function() {
		const m = new form.Map('ripng', _('v6only: RIPng'), _('The RIPng routing daemon (RFC 2080).'));
		let s = m.section(form.NamedSection, 'main', 'ripng', _('Daemon'));
		s.addremove = false;
		let o;
		o = s.option(form.Flag, 'enabled', _('Enabled')); o.default = '1'; o.rmempty = false;
		o = s.option(form.Value, 'update_interval', _('Update interval (s)')); o.datatype = 'range(1,3600)'; o.placeholder = '30';
		o = s.option(form.Value, 'timeout', _('Route timeout (s)')); o.datatype = 'range(1,86400)'; o.placeholder = '180';
		o = s.option(form.Value, 'garbage', _('Garbage collection (s)')); o.datatype = 'range(1,86400)'; o.placeholder = '120';
		o = s.option(form.Value, 'triggered_min', _('Triggered updates, at least (s)')); o.datatype = 'range(1,60)'; o.placeholder = '1';
		o = s.option(form.Value, 'triggered_max', _('Triggered updates, at most (s)')); o.datatype = 'range(1,60)'; o.placeholder = '5';
		o = s.option(form.Value, 'max_routes', _('Maximum routes')); o.datatype = 'range(1,1000000)'; o.placeholder = '10000';
		o = s.option(form.Value, 'max_paths', _('Equal-cost paths')); o.datatype = 'range(1,16)'; o.placeholder = '1';
		o = s.option(form.Value, 'kernel_protocol', _('Kernel route protocol')); o.datatype = 'range(5,255)'; o.placeholder = '189';
		o = s.option(form.Value, 'kernel_metric', _('Kernel route metric')); o.datatype = 'uinteger'; o.placeholder = '512';
		o = s.option(form.Value, 'kernel_table', _('Kernel route table')); o.datatype = 'uinteger'; o.placeholder = '254';
		o = s.option(form.Flag, 'flush_on_exit', _('Remove the routes at exit')); o.default = '1';
		o = s.option(form.Flag, 'default_route', _('Advertise a default route')); o.default = '0';
		o = s.option(form.Value, 'control_socket', _('Control socket')); o.datatype = 'string'; o.placeholder = '/var/run/ripng.sock';

		s = m.section(form.GridSection, 'interface', _('Interfaces'));
		s.addremove = true;
		s.anonymous = true;
		o = s.option(form.Flag, 'enabled', _('Enabled')); o.default = '1';
		o = s.option(form.Value, 'interface', _('Logical interface')); o.datatype = 'uciname';
		o = s.option(form.Value, 'device', _('Device')); o.datatype = 'and(hostname,maxlength(15))';
		o = s.option(form.Value, 'cost', _('Cost')); o.datatype = 'range(1,15)'; o.placeholder = '1';
		o = s.option(form.ListValue, 'split_horizon', _('Split horizon')); o.value('poison'); o.value('simple'); o.value('none'); o.datatype = 'or("none","simple","poison")';
		o = s.option(form.Flag, 'passive', _('Passive')); o.default = '0';
		o = s.option(form.Flag, 'accept_default', _('Accept a default route')); o.default = '0';

		s = m.section(form.GridSection, 'redistribute', _('Redistribute'));
		s.addremove = true;
		s.anonymous = true;
		o = s.option(form.Flag, 'enabled', _('Enabled')); o.default = '1';
		o = s.option(form.ListValue, 'source', _('Source')); o.value('connected'); o.value('static'); o.value('kernel'); o.datatype = 'or("connected","static","kernel")';
		o = s.option(form.Value, 'metric', _('Metric')); o.datatype = 'range(1,15)'; o.placeholder = '1';
		o = s.option(form.Value, 'tag', _('Tag')); o.datatype = 'range(0,65535)'; o.placeholder = '0';
		o = s.option(form.DynamicList, 'prefix', _('Only within')); o.datatype = 'cidr6';

		s = m.section(form.GridSection, 'filter', _('Filters'));
		s.addremove = true;
		s.anonymous = true;
		o = s.option(form.Flag, 'enabled', _('Enabled')); o.default = '1';
		o = s.option(form.ListValue, 'direction', _('Direction')); o.value('in'); o.value('out'); o.datatype = 'or("in","out")';
		o = s.option(form.Value, 'prefix', _('Prefix')); o.datatype = 'cidr6';
		o = s.option(form.Value, 'min_length', _('Minimum length')); o.datatype = 'range(0,128)';
		o = s.option(form.Value, 'max_length', _('Maximum length')); o.datatype = 'range(0,128)';
		o = s.option(form.Value, 'device', _('Device')); o.datatype = 'and(hostname,maxlength(15))';
		o = s.option(form.Value, 'interface', _('Logical interface')); o.datatype = 'uciname';
		o = s.option(form.ListValue, 'action', _('Action')); o.value('accept'); o.value('reject'); o.datatype = 'or("accept","reject")';
		return m.render();
	}
});
