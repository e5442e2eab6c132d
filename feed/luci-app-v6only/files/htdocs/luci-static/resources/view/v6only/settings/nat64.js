'use strict';
'require view';
'require form';

// NAT64 settings: /etc/config/nat64 (the main section and the static bindings), each option
// with the type /etc/init.d/nat64 validates it with. Applied with LuCI's apply and rollback;
// procd's reload trigger reloads the daemon (sessions are kept).

return view.extend({
	render: function() {
		const m = new form.Map('nat64', _('v6only: NAT64'),
			_('The stateful NAT64: IPv6-only clients reach IPv4 hosts through the prefix.'));
		let s = m.section(form.NamedSection, 'main', 'nat64', _('Translator'));
		s.addremove = false;
		let o;
		o = s.option(form.Value, 'prefix', _('Prefix')); o.datatype = 'cidr6'; o.placeholder = '64:ff9b::/96';
		o = s.option(form.Value, 'tun_device', _('TUN device')); o.datatype = 'and(hostname,maxlength(15))'; o.placeholder = 'nat64';
		o = s.option(form.DynamicList, 'pool4', _('IPv4 pool'), _('ADDR[/LEN] [PORTLO-PORTHI]')); o.datatype = 'string';
		o = s.option(form.Value, 'max_sessions', _('Maximum sessions')); o.datatype = 'range(1,4000000)'; o.placeholder = '65536';
		o = s.option(form.Value, 'max_sessions_per_host', _('Maximum sessions per host'), _('0: no limit')); o.datatype = 'range(0,4000000)'; o.placeholder = '0';
		o = s.option(form.Flag, 'allow_non_global', _('Translate non-global IPv4 addresses')); o.default = '0';
		o = s.option(form.Value, 'mtu', _('MTU')); o.datatype = 'range(1280,65535)'; o.placeholder = '1500';
		o = s.option(form.Value, 'lowest_ipv6_mtu', _('Lowest IPv6 MTU')); o.datatype = 'range(1280,65535)'; o.placeholder = '1280';
		o = s.option(form.Flag, 'zeroize_traffic_class', _('Zero the traffic class')); o.default = '0';
		o = s.option(form.Flag, 'source_icmpv6_errors_better', _('Better sources for ICMPv6 errors')); o.default = '1';
		o = s.option(form.Value, 'udp_timeout', _('UDP timeout (s)')); o.datatype = 'range(1,2592000)'; o.placeholder = '300';
		o = s.option(form.Value, 'icmp_timeout', _('ICMP timeout (s)')); o.datatype = 'range(1,2592000)'; o.placeholder = '60';
		o = s.option(form.Value, 'tcp_est_timeout', _('TCP established timeout (s)')); o.datatype = 'range(1,2592000)'; o.placeholder = '7440';
		o = s.option(form.Value, 'tcp_trans_timeout', _('TCP transitory timeout (s)')); o.datatype = 'range(1,2592000)'; o.placeholder = '240';
		o = s.option(form.Value, 'tcp_incoming_syn_timeout', _('Incoming SYN timeout (s)')); o.datatype = 'range(1,2592000)'; o.placeholder = '6';
		o = s.option(form.Value, 'control_socket', _('Control socket')); o.datatype = 'string'; o.placeholder = '/var/run/nat64.sock';
		o = s.option(form.Flag, 'offload', _('TUN offloads')); o.default = '1';
		o = s.option(form.Value, 'workers', _('Workers'), _('Translating threads, one TUN queue each; 0: one per CPU. Like the TUN device and offloads, a change restarts the daemon: its sessions are lost.')); o.datatype = 'range(0,16)'; o.placeholder = '0';
		o = s.option(form.Value, 'wan_zone', _('WAN zone')); o.datatype = 'string'; o.placeholder = 'wan';
		o = s.option(form.Value, 'lan_zone', _('LAN zone')); o.datatype = 'string'; o.placeholder = 'lan';
		o = s.option(form.Flag, 'masquerade', _('Masquerade the pool')); o.default = '1';
		o = s.option(form.Flag, 'mss_clamp', _('Clamp the TCP MSS')); o.default = '1';

		s = m.section(form.GridSection, 'static', _('Static bindings'), _('Port forwarding from IPv4 to an IPv6 host.'));
		s.addremove = true;
		s.anonymous = true;
		o = s.option(form.ListValue, 'proto', _('Protocol')); o.value('tcp'); o.value('udp'); o.value('icmp'); o.datatype = 'or("tcp","udp","icmp")';
		o = s.option(form.Value, 'ipv6', _('IPv6 host')); o.datatype = 'ip6addr';
		o = s.option(form.Value, 'port6', _('IPv6 port')); o.datatype = 'port';
		o = s.option(form.Value, 'ipv4', _('IPv4 address')); o.datatype = 'ip4addr';
		o = s.option(form.Value, 'port4', _('IPv4 port')); o.datatype = 'port';
		return m.render();
	}
});
