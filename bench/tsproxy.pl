#!/usr/bin/perl
# tsproxy.pl: a one-connection TCP relay between a client and the local
# server that notes when each content event of an SSE answer left the
# server, for the latency figure of bench/bench.sh.
#
# usage: perl tsproxy.pl upstream_port portfile logfile
#
# Listens on a kernel-chosen loopback port (written to portfile, temp +
# rename), accepts one connection, relays it both ways to
# 127.0.0.1:upstream_port with TCP_NODELAY, and exits when either side
# closes.  For each SSE event from the server that carries a non-empty
# "content" (the events that become delta records), logfile gets the
# time (Time::HiRes, seconds since the epoch) at which its last byte was
# read, taken before the bytes are passed on.  The relay adds the same
# small delay whichever client is behind it, so the difference between
# two clients' figures is theirs.
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);

my ($up, $portfile, $logfile) = @ARGV;
alarm 120;		# never outlive a client that did not come
die "usage: tsproxy.pl upstream_port portfile logfile\n"
    unless defined $logfile;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 1, ReuseAddr => 1) or die "tsproxy: cannot listen: $!\n";
open(my $pf, '>', "$portfile.tmp") or die "tsproxy: '$portfile': $!\n";
print $pf $l->sockport, "\n";
close $pf or die "tsproxy: '$portfile': $!\n";
rename("$portfile.tmp", $portfile) or die "tsproxy: '$portfile': $!\n";
open(my $log, '>', $logfile) or die "tsproxy: '$logfile': $!\n";

my $c = $l->accept or die "tsproxy: accept: $!\n";
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $up)
    or die "tsproxy: cannot connect to port $up: $!\n";
setsockopt($_, IPPROTO_TCP, TCP_NODELAY, 1) for $c, $s;
my $sel = IO::Select->new($c, $s);
my $pend = '';		# server bytes after the last complete event
my @t;

# Write all of $buf to $fh; 0 when the peer is gone.
sub put {
	my ($fh, $buf) = @_;
	while (length $buf) {
		my $n = syswrite($fh, $buf);
		return 0 unless $n;
		substr($buf, 0, $n, '');
	}
	return 1;
}

LOOP: while (1) {
	for my $fh ($sel->can_read) {
		my $n = sysread($fh, my $buf, 65536);
		my $now = time;
		last LOOP unless $n;
		if ($fh == $c) {
			last LOOP unless put($s, $buf);
			next;
		}
		last LOOP unless put($c, $buf);
		$pend .= $buf;
		while ($pend =~ s/\A(.*?)\n\n//s) {
			my $ev = $1;
			push @t, $now if $ev =~ /"content":"[^"]/;
		}
	}
}
printf $log "%.6f\n", $_ for @t;
close $log or die "tsproxy: '$logfile': $!\n";
