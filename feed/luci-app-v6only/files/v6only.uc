// luci.v6only: what luci-app-v6only's pages show, from each installed daemon's own `status`
// (and nat64's `sessions`, mesh-monitor's topology).
//
// rpcd loads this at start (and on reload) and runs it as root; the ACL
// luci-app-v6only grants its methods to LuCI sessions. The daemons are static programs
// without libubus: `<daemon> status` asks the running daemon over its control socket and
// prints JSON, so this plugin runs exactly that, as LuCI's own plugin runs its helpers.
// A daemon that is stopped answers nothing: its entry carries the error, nothing else fails.

'use strict';

import { access, popen, readfile } from 'fs';
import { cursor } from 'uci';

// The daemons, in the order the overview shows them.
const DAEMONS = [ 'option108-dhcpd', 'dns64', 'nat64', 'ripng', 'mesh-monitor' ];

// run_json(argv): { data } when the program exits 0 with a JSON object, else { error }.
// Only fixed command lines are run: no request argument reaches a shell.
function run_json(cmd) {
	const p = popen(`${cmd} 2>&1`, 'r');
	if (!p)
		return { error: `cannot run ${cmd}` };
	const out = p.read('all') ?? '';
	const rc = p.close();
	let data = null;
	try {
		data = json(out);
	}
	catch (e) {
		data = null;
	}
	if (rc == 0 && type(data) == 'object')
		return { data };
	return { error: trim(out) || `exit status ${rc}` };
}

function installed(name) {
	return access(`/usr/sbin/${name}`, 'x') == true;
}

const methods = {
	// { daemons: { NAME: { status } or { error } } } for every installed daemon
	status: {
		call: function() {
			const daemons = {};
			for (let name in DAEMONS) {
				if (!installed(name))
					continue;
				const r = run_json(`/usr/sbin/${name} status`);
				daemons[name] = r.data ? { status: r.data } : { error: r.error };
			}
			return { daemons };
		}
	},

	// `nat64 sessions --json`: { total, truncated, sessions: [...] } (at most 1024), or
	// { error } when nat64 is not installed or not running.
	nat64_sessions: {
		call: function() {
			if (!installed('nat64'))
				return { error: 'nat64 is not installed' };
			const r = run_json('/usr/sbin/nat64 sessions --json');
			return r.data ?? { error: r.error };
		}
	},

	// mesh-monitor's topology export: the daemon's topology_file when it writes JSON there,
	// else `mesh-monitor topology --json` (which reads nl80211 itself, daemon or not).
	topology: {
		call: function() {
			if (!installed('mesh-monitor'))
				return { error: 'mesh-monitor is not installed' };
			const file = cursor().get('mesh-monitor', 'main', 'topology_file');
			if (file && !match(file, /\.dot$/)) {
				const text = readfile(file);
				let topology = null;
				try {
					topology = text ? json(text) : null;
				}
				catch (e) {
					topology = null;
				}
				if (type(topology) == 'object')
					return { source: file, topology };
			}
			const r = run_json('/usr/sbin/mesh-monitor topology --json');
			return r.data ? { source: 'nl80211', topology: r.data } : { error: r.error };
		}
	}
};

return { 'luci.v6only': methods };
