#!/usr/bin/env perl
# Usage: perl .ci/survivors.pl [--grace SECONDS] -- command [args...]
#
# Runs the command and fails when it leaves any process behind. This process makes itself a child
# subreaper (prctl PR_SET_CHILD_SUBREAPER), so every descendant the command orphans is re-parented
# here instead of to init, whatever it did to get away: a new process group or session (setsid,
# `detached: true`), a wiped environment (`env -i`), a double fork, another working directory. Once
# the command has exited, any descendant still alive after GRACE seconds (default 5: time for
# processes that are already on their way out) is a survivor: it is listed with its command line
# and working directory, killed, and reaped.
#
# Exit status: the command's own when it failed (128 + signal when it was killed); otherwise 3 when
# there were survivors, 0 when there were none.
use strict;
use warnings;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use constant PR_SET_CHILD_SUBREAPER => 36;
use constant SURVIVORS_STATUS       => 3;

my $grace = 5;
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $option = shift @ARGV;
  last if $option eq '--';
  if ($option eq '--grace') {
    $grace = shift @ARGV;
    die "survivors: --grace needs a number of seconds\n" unless defined $grace && $grace =~ /^\d+(\.\d+)?$/;
  } else {
    die "survivors: unknown option $option\n";
  }
}
die "usage: survivors.pl [--grace SECONDS] -- command [args...]\n" unless @ARGV;

sub prctl_syscall_number {
  my $number = eval { require 'syscall.ph'; &SYS_prctl() };
  return $number if defined $number;
  my %by_machine = (x86_64 => 157, aarch64 => 167, arm64 => 167, i386 => 172, i686 => 172, armv7l => 172);
  my $machine = (POSIX::uname())[4];
  return $by_machine{$machine} // die "survivors: do not know the prctl system call number on $machine\n";
}

syscall(prctl_syscall_number(), PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
  or die "survivors: cannot become a child subreaper: $!\n";

my $main = fork() // die "survivors: fork failed: $!\n";
if ($main == 0) {
  { no warnings 'exec'; exec { $ARGV[0] } @ARGV; }
  print STDERR "survivors: cannot run $ARGV[0]: $!\n";
  POSIX::_exit(127);
}
# Interrupting the run interrupts the command; survivors are still looked for afterwards.
for my $signal (qw(INT TERM HUP)) {
  $SIG{$signal} = sub { kill $signal, $main };
}

# Blocking waits also reap the orphans that end during the run (they are our children now).
my $wait_status;
while (1) {
  my $pid = waitpid(-1, 0);
  if ($pid == $main) { $wait_status = $?; last }
  if ($pid == -1) {
    next if $!{EINTR};
    die "survivors: lost track of the command: $!\n";
  }
}
my $status = ($wait_status & 127) ? 128 + ($wait_status & 127) : $wait_status >> 8;

sub reap { 1 while waitpid(-1, WNOHANG) > 0 }

sub read_file {
  my ($path) = @_;
  open my $fh, '<', $path or return undef;
  local $/;
  my $content = <$fh>;
  return $content;
}

# Every live (non-zombie) process below this one, found through the parent links in /proc.
sub descendants {
  my (%children, %state);
  opendir my $proc, '/proc' or die "survivors: cannot read /proc: $!\n";
  for my $pid (grep { /^\d+$/ } readdir $proc) {
    my $stat = read_file("/proc/$pid/stat") // next;
    # The command name may hold spaces and parentheses: the fields follow its last ')'.
    my ($state, $ppid) = $stat =~ /\)\s+(\S)\s+(\d+)[^)]*$/s or next;
    $state{$pid} = $state;
    push @{ $children{$ppid} }, $pid;
  }
  closedir $proc;
  my @found;
  my @queue = ($$);
  while (@queue) {
    my $parent = shift @queue;
    for my $child (@{ $children{$parent} // [] }) {
      push @found, $child;
      push @queue, $child;
    }
  }
  return grep { $state{$_} ne 'Z' } @found;
}

sub describe {
  my ($pid) = @_;
  my $cmdline = read_file("/proc/$pid/cmdline") // '';
  $cmdline =~ s/\0+$//;
  $cmdline =~ s/\0/ /g;
  $cmdline = '(' . (read_file("/proc/$pid/comm") // '?') =~ s/\s+$//r . ')' if $cmdline eq '';
  my $cwd = readlink("/proc/$pid/cwd") // '?';
  return sprintf('  pid %d  cwd %s  %s', $pid, $cwd, $cmdline);
}

my $deadline = time() + $grace;
my @left;
while (1) {
  reap();
  @left = descendants();
  last if !@left || time() >= $deadline;
  sleep(0.1);
}

if (!@left) {
  exit $status;
}

print STDERR "survivors: " . scalar(@left) . " process(es) outlived `@ARGV` by more than ${grace}s:\n";
print STDERR describe($_), "\n" for @left;
# They may still be forking: kill what is there until nothing is left (bounded).
for (1 .. 50) {
  my @alive = descendants();
  last unless @alive;
  kill 'KILL', @alive;
  sleep(0.1);
  reap();
}
my @unkillable = descendants();
print STDERR "survivors: could not kill: @unkillable\n" if @unkillable;
print STDERR "survivors: killed them; the run fails\n";
exit($status != 0 ? $status : SURVIVORS_STATUS);
