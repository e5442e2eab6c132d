'use strict';
'require view';
'require form';

// DHCPv4 with option 108: option108-dhcpd's own settings (/etc/config/option108-dhcpd) and,
// per pool of /etc/config/dhcp, what it reads there (IPv6-Only Preferred above all), each
// option with the type /etc/init.d/option108-dhcpd validates it with. Both maps are saved
// and applied together; procd's reload trigger on dhcp and option108-dhcpd reloads it.

return view.extend({
	render: function() {
		const m = new form.Map('option108-dhcpd', _('v6only: DHCPv4 with option 108'),
			_('Clients that ask for option 108 on a pool where it is on go IPv6-only and take no IPv4 address.'));
		let s = m.section(form.NamedSection, 'main', 'option108_dhcpd');
		s.addremove = false;
		let o;
		o = s.option(form.Flag, 'enabled', _('Enabled')); o.default = '0'; o.rmempty = false;
		o = s.option(form.Value, 'journal', _('Lease journal')); o.datatype = 'string'; o.placeholder = '/tmp/option108-dhcpd.journal';
		o = s.option(form.Value, 'leasefile', _('Lease file (dnsmasq format)')); o.datatype = 'string'; o.placeholder = '/tmp/dhcp.leases';
		o = s.option(form.Flag, 'log_leases', _('Log lease events')); o.default = '1';
		o = s.option(form.Value, 'control_socket', _('Control socket')); o.datatype = 'string'; o.placeholder = '/var/run/option108-dhcpd.sock';

		const d = new form.Map('dhcp', _('Pools'), _('The \'config dhcp\' sections of /etc/config/dhcp, as option108-dhcpd reads them.'));
		s = d.section(form.TypedSection, 'dhcp');
		s.addremove = false;
		s.anonymous = false;
		o = s.option(form.Value, 'interface', _('Interface')); o.datatype = 'string';
		o = s.option(form.Value, 'device', _('Device'), _('Instead of the interface\'s')); o.datatype = 'string';
		o = s.option(form.Flag, 'ignore', _('Ignore this pool')); o.default = '0';
		o = s.option(form.ListValue, 'dhcpv4', _('DHCPv4')); o.value('', _('default')); o.value('server'); o.value('disabled'); o.value('relay'); o.value('hybrid'); o.datatype = 'or("server","disabled","relay","hybrid")';
		o = s.option(form.Value, 'start', _('Start')); o.datatype = 'uinteger'; o.placeholder = '100';
		o = s.option(form.Value, 'limit', _('Limit')); o.datatype = 'uinteger'; o.placeholder = '150';
		o = s.option(form.Value, 'leasetime', _('Lease time')); o.datatype = 'or(uinteger,"infinite",string)'; o.placeholder = '12h';
		o = s.option(form.Value, 'ipv6_only_preferred', _('IPv6-Only Preferred (s)'), _('V6ONLY_WAIT of option 108; 0 or empty: off')); o.datatype = 'uinteger';
		o = s.option(form.Flag, 'rapid_commit', _('Rapid commit')); o.default = '0';
		o = s.option(form.Flag, 'authoritative', _('Authoritative')); o.default = '1';
		o = s.option(form.DynamicList, 'dhcp_option', _('DHCP options'), _('CODE,VALUE as dnsmasq takes them, e.g. 108,1800')); o.datatype = 'string';
		o = s.option(form.Value, 'domain', _('Domain')); o.datatype = 'string';

		s = d.section(form.GridSection, 'host', _('Static leases'));
		s.addremove = true;
		s.anonymous = true;
		o = s.option(form.Value, 'name', _('Name')); o.datatype = 'string';
		o = s.option(form.DynamicList, 'mac', _('MAC addresses')); o.datatype = 'macaddr';
		o = s.option(form.Value, 'ip', _('IPv4 address')); o.datatype = 'ip4addr';
		o = s.option(form.Value, 'leasetime', _('Lease time')); o.datatype = 'string';
		return Promise.all([ m.render(), d.render() ]).then(function(nodes) {
			return E([], nodes);
		});
	}
});
