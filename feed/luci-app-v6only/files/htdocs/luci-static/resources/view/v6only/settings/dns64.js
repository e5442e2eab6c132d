'use strict';
'require view';
'require form';

// DNS64 settings: /etc/config/dns64, each option with the type /etc/init.d/dns64 validates it
// with (uci_load_validate, in LuCI's datatypes). Save & Apply goes through LuCI's apply with
// rollback; procd's reload trigger on the config reloads the daemon.

return view.extend({
	render: function() {
		const m = new form.Map('dns64', _('v6only: DNS64'),
			_('The DNS64 forwarder: AAAA records synthesized with the NAT64 prefix for IPv6-only clients.'));
		const s = m.section(form.NamedSection, 'main', 'dns64');
		s.addremove = false;
		let o;
		o = s.option(form.Flag, 'enabled', _('Enabled')); o.default = '1'; o.rmempty = false;
		o = s.option(form.Value, 'prefix', _('NAT64 prefix'), _('RFC 6052 prefix, as nat64 uses it')); o.datatype = 'cidr6'; o.placeholder = '64:ff9b::/96';
		o = s.option(form.Flag, 'allow_non_global', _('Synthesize non-global IPv4 addresses')); o.default = '0';
		o = s.option(form.DynamicList, 'listen', _('Listen addresses'), _('Default: the addresses of the lan interface')); o.datatype = 'ipaddr';
		o = s.option(form.Value, 'port', _('Port')); o.datatype = 'port'; o.placeholder = '53';
		o = s.option(form.DynamicList, 'upstream', _('Upstream resolvers'), _('ADDR or ADDR#PORT; default: the WAN\'s resolvers')); o.datatype = 'string';
		o = s.option(form.DynamicList, 'exclude', _('Excluded AAAA ranges')); o.datatype = 'cidr6'; o.placeholder = '::ffff:0:0/96';
		o = s.option(form.Value, 'cache_size', _('Cache size (KiB)')); o.datatype = 'range(0,1048576)'; o.placeholder = '4096';
		o = s.option(form.Value, 'resolv_file', _('Resolver file')); o.datatype = 'string'; o.placeholder = '/tmp/resolv.conf.d/resolv.conf.auto';
		o = s.option(form.Value, 'timeout', _('Timeout (ms)')); o.datatype = 'range(200,60000)'; o.placeholder = '3500';
		o = s.option(form.Value, 'control_socket', _('Control socket')); o.datatype = 'string'; o.placeholder = '/var/run/dns64.sock';
		return m.render();
	}
});
