#!/bin/sh
# The bash completion, run in bash as readline would: COMPREPLY for commands, options,
# mapping names from the table given with -f, key names and values after add/set NAME.
. "$PP_TOP/tests/lib.sh"
command -v bash >/dev/null || { echo "# skip: no bash"; exit 77; }
C=$PP_TOP/completion/portpilot
T=$pp_tmp/m.ini
cp "$PP_TOP/examples/seed-site.ini" "$T"
printf '\n[cam-lobby]\npublic_port = 9000\ninternal_ip = 192.168.2.20\n' >>"$T"
# The completion runs the portpilot found on PATH, as a user's shell would.
PATH=$(dirname "$PORTPILOT"):$PATH; export PATH

# comp "LINE": the sorted replies for the cursor at the end of LINE, space-separated.
comp() {
	bash --norc --noprofile -c '
		. "$1" || exit 1
		COMP_LINE=$2 COMP_POINT=${#2}
		read -r -a COMP_WORDS <<<"$2"; [[ $2 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_portpilot
		printf "%s\n" "${COMPREPLY[@]}"' _ "$C" "$1" | sort | tr '\n' ' ' | sed 's/ $//'
}
is() { _got=$(comp "$1"); [ "$_got" = "$2" ] || { echo "# '$1' gave '$_got', want '$2'"; return 1; }; }
has() { comp "$1" | tr ' ' '\n' | grep -qx -- "$2" || { echo "# '$1' lacks '$2': $(comp "$1")"; return 1; }; }
lacks() { ! comp "$1" | tr ' ' '\n' | grep -qx -- "$2"; }

check "bash loads the completion" bash --norc -c ". '$C' && complete -p portpilot | grep -q _portpilot"
all=$("$PORTPILOT" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9]*\) .*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//')
check "commands: 'portpilot ' offers every command of --help (19 or more)" sh -c "[ \$(echo $all | wc -w) -ge 19 ]"
check "commands: 'portpilot ' offers exactly those" is "portpilot " "$all"
check "commands: 'portpilot li' is list" is "portpilot li" "list"
check "commands: 'portpilot d' offers ddns del disable" is "portpilot d" "ddns del disable"
check "commands: the hidden helper is not offered" lacks "portpilot c" complete
check "commands: init is offered" is "portpilot in" "init"
check "commands: after global options" is "portpilot -f $T --json ap" "apply"
check "global options" has "portpilot --st" "--state-dir"
check "command options from its --help: apply --d" is "portpilot apply --d" "--dry-run"
check "command options: init --" is "portpilot init --w" "--wan"
check "mapping names from -f TABLE: del" is "portpilot -f $T del " "cam-lobby web-1 web-2 web-3"
check "mapping names: enable w" is "portpilot -f $T enable w" "web-1 web-2 web-3"
check "mapping names: set offers site too" is "portpilot -f $T set " "cam-lobby site web-1 web-2 web-3"
check "mapping names: probe c" is "portpilot -f $T probe c" "cam-lobby"
check "keys after set NAME" has "portpilot -f $T set web-1 " "internal_port="
check "keys after set NAME: pub" is "portpilot -f $T set web-1 pub" "public_port="
check "keys after set NAME KEY=V: the next key" is "portpilot -f $T set web-1 owner=x p" "protocol= public_port= purpose="
check "keys after add NEWNAME" is "portpilot -f $T add cam-2 internal_po" "internal_port="
check "site keys after set site" is "portpilot -f $T set site wan" "wan_interface="
check "site keys: no mapping key for site" lacks "portpilot -f $T set site " "internal_ip="
check "values: protocol=" is "portpilot -f $T set web-1 protocol=" "both tcp udp"
check "values: protocol=u" is "portpilot -f $T set web-1 protocol=u" "udp"
check "values: enabled=" is "portpilot -f $T add x enabled=" "no yes"
printf '[ddns home]\nprovider = duckdns\nhostname = a.duckdns.org\ncredentials_file = /x\n\n[ddns office]\nprovider = duckdns\nhostname = b.duckdns.org\ncredentials_file = /x\n' >"$pp_tmp/pp.conf"
check "ddns --name: the sections of -c CONF" is "portpilot -c $pp_tmp/pp.conf ddns --once --name " "home office"
check "export --format" is "portpilot export --format " "csv json md"
# From the command table (core/cli-commands.c): every command's words, options and values.
check "table: watch6 is offered" is "portpilot watch" "watch watch6"
check "table: relay's subcommands" is "portpilot relay " "down keygen status up"
check "table: edge's subcommands after an option" is "portpilot edge --config /x " "down keygen status up"
check "table: health NAME from -f TABLE" is "portpilot -f $T health c" "cam-lobby"
check "table: help COMMAND" is "portpilot help wat" "watch watch6"
check "table: watch6's options" is "portpilot watch6 --" "--help --once --settle"
check "table: --json is offered where the command has JSON output" has "portpilot list --" "--json"
check "table: ... and not for the editor, which has none" lacks "portpilot tui --" "--json"
check "table: the global options, from their spec" is "portpilot --" "--help --json --state-dir --version"
check "table: a global option's value is skipped by the table (--state-dir DIR)" is "portpilot --state-dir /x li" "list"
check "table: a global option without a value is not skipped (--json)" is "portpilot --json li" "list"
check "table: an option's value is not the argument (edge --config F)" lacks "portpilot edge --config " "keygen"
check "table: monitor --metrics-file completes files" has "portpilot monitor --metrics-file $pp_tmp/m." "$T"
check "table: probe --list-causes= is offered" has "portpilot probe --li" "--list-causes="
silent() { _out=$(comp "$1" 2>"$pp_tmp/cerr"); [ -z "$_out" ] && [ ! -s "$pp_tmp/cerr" ]; }
check "an unreadable table completes to nothing, silently" silent "portpilot -f $pp_tmp/none.ini del "

# Through readline itself (which splits words at '=' too): a private tmux server, bash
# with only this completion loaded, TAB pressed for real.
if command -v tmux >/dev/null 2>&1; then
	sock=pp-$$-comp
	at_exit "tmux -L $sock kill-server 2>/dev/null"
	tmux -L "$sock" -f /dev/null new-session -d -x 200 -y 10 -c "$pp_tmp" \
		"env -i HOME=$pp_tmp TERM=screen PATH=$PATH bash --norc --noprofile"
	pane() { tmux -L "$sock" capture-pane -p; }
	pane_has() { pane | grep -qF -- "$1"; }
	tmux -L "$sock" send-keys ". $C" Enter "portpilot -f m.ini set web-1 prot" Tab
	check "readline: KEY completes to KEY= with no space" wait_for 5 pane_has "set web-1 protocol="
	tmux -L "$sock" send-keys "u" Tab
	check "readline: the value after = completes" wait_for 5 pane_has "set web-1 protocol=udp"
	tmux -L "$sock" send-keys "ena" Tab
	check "readline: a space after the value, then the next key" wait_for 5 pane_has "protocol=udp enabled="
	tmux -L "$sock" send-keys C-u "portpilot -f m.ini del cam" Tab
	check "readline: a mapping name from the table" wait_for 5 pane_has "del cam-lobby"
fi
pp_done
