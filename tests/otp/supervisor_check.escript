#!/usr/bin/env escript
%%! -noshell
%% Runs generated scenarios through real OTP supervisors and prints their traces.
%%
%% Input: a file of terms {scenario, N, Tree, Events} (see tests/test_otp_agreement.py).
%% Output, one tab-separated line per fact: "result N RootOutcome", then per event
%% "event N start|stop Path" (stop: workers only) or "event N api SupPath Op Id Outcome".
%%
%% Every scenario starts 100 ms after a whole second of erlang:monotonic_time and its
%% events fall on whole-second offsets from there, so OTP's whole-second restart window
%% gives the same answers as trio_otp's exact one. All scenarios run at once.
-module(supervisor_check).
-mode(compile).
-behaviour(supervisor).
-export([main/1, init/1, start_worker/2, worker_init/2, start_sup/3, log/2]).

-define(SETTLE_MS, 40).

main([File]) ->
    {ok, Terms} = file:consult(File),
    ok = logger:remove_handler(default),
    escalations = ets:new(escalations, [named_table, public, set]),
    ok = logger:add_handler(otp_check, ?MODULE, #{level => all}),
    Main = self(),
    Scenarios = [S || {scenario, _, _, _} = S <- Terms],
    wait_for_second_boundary(),
    [spawn(fun() -> Main ! {done, N, run(Tree, Events)} end) || {scenario, N, Tree, Events} <- Scenarios],
    Results = [receive {done, N, R} -> {N, R} end || {scenario, N, _, _} <- Scenarios],
    [print(N, Outcome, Trace) || {N, {Outcome, Trace}} <- Results],
    halt(0).

%% One line per fact, tab-separated, paths joined with "/".
print(N, Outcome, Trace) ->
    io:format("result\t~b\t~s~n", [N, Outcome]),
    [io:format("event\t~b\t~s~n", [N, lists:join("\t", fields(E))]) || E <- Trace].

fields({start, Path}) -> ["start", path(Path)];
fields({stop, Path}) -> ["stop", path(Path)];
fields({api, SupPath, Op, Id, Outcome}) ->
    ["api", path(SupPath), atom_to_list(Op), Id, atom_to_list(Outcome)].

path(Path) -> lists:join("/", Path).

wait_for_second_boundary() ->
    Now = erlang:monotonic_time(millisecond),
    Phase = ((Now rem 1000) + 1000) rem 1000,
    timer:sleep(1000 - Phase + 100).

%% logger handler: remember which supervisors gave up.
log(#{msg := {report, #{report := Report}}, meta := #{pid := Pid}}, _Config) when is_list(Report) ->
    case lists:member({reason, reached_max_restart_intensity}, Report) of
        true -> ets:insert(escalations, {Pid});
        false -> ok
    end;
log(_, _) -> ok.

run(Tree, Events) ->
    process_flag(trap_exit, true),
    T = ets:new(trace, [ordered_set, public]),
    T0 = erlang:monotonic_time(millisecond),
    case start_sup(T, ["root"], Tree) of
        {ok, Root} ->
            Outcome = play(T, Root, T0, 0, Events),
            {Outcome, trace(T)};
        {error, _} ->
            {start_failed, trace(T)}
    end.

play(T, Root, T0, Offset, [{Delay, Event} | Rest]) ->
    At = Offset + round(Delay * 1000),
    Sleep = T0 + At - erlang:monotonic_time(millisecond),
    timer:sleep(max(Sleep, 0)),
    case root_ended(Root) of
        {true, Outcome} -> Outcome;
        false ->
            event(T, Event),
            timer:sleep(?SETTLE_MS),
            play(T, Root, T0, At, Rest)
    end;
play(_T, Root, _T0, _Offset, []) ->
    case root_ended(Root) of
        {true, Outcome} -> Outcome;
        false ->
            exit(Root, shutdown),
            receive {'EXIT', Root, _} -> running end
    end.

root_ended(Root) ->
    receive
        {'EXIT', Root, _} ->
            case ets:lookup(escalations, Root) of
                [_] -> {true, escalated};
                [] -> {true, returned}
            end
    after 0 -> false
    end.

event(T, {exit, Path, Kind}) ->
    case ets:lookup(T, {worker, Path}) of
        [{_, Pid}] -> Pid ! {command, Kind};
        [] -> ok
    end;
event(T, {fail_starts, Path, Count}) ->
    ets:insert(T, {{fail, Path}, Count});
event(T, {ignore_starts, Path, Count}) ->
    ets:insert(T, {{ignore, Path}, Count});
event(T, {api, SupPath, Op, Id}) ->
    Outcome = case ets:lookup(T, {sup, SupPath}) of
        [{_, Pid}] ->
            case is_process_alive(Pid) of
                true -> api_outcome(supervisor:Op(Pid, Id));
                false -> 'SupervisorNotRunning'
            end;
        [] -> 'SupervisorNotRunning'
    end,
    record(T, {api, SupPath, Op, Id, Outcome}).

api_outcome(ok) -> ok;
api_outcome({ok, undefined}) -> 'ChildIgnored';
api_outcome({ok, _}) -> ok;
api_outcome({ok, _, _}) -> ok;
api_outcome({error, not_found}) -> 'ChildNotFound';
api_outcome({error, running}) -> 'ChildRunning';
api_outcome({error, restarting}) -> 'ChildRestarting';
api_outcome({error, _}) -> 'ChildStartError'.

record(T, Event) ->
    ets:insert(T, {erlang:unique_integer([monotonic, positive]), Event}).

trace(T) ->
    [Event || {Key, Event} <- ets:tab2list(T), is_integer(Key)].

%% --- supervisors ---

start_sup(T, Path, Spec) ->
    record(T, {start, Path}),
    supervisor:start_link(?MODULE, {T, Path, Spec}).

init({T, Path, {sup, _Id, Strategy, MaxR, MaxS, Auto, _Restart, _Significant, Children}}) ->
    ets:insert(T, {{sup, Path}, self()}),
    Flags = #{strategy => Strategy, intensity => MaxR, period => MaxS, auto_shutdown => Auto},
    {ok, {Flags, [child_spec(T, Path, Child) || Child <- Children]}}.

child_spec(T, Path, {worker, Id, Restart, Significant}) ->
    #{id => Id, start => {?MODULE, start_worker, [T, Path ++ [Id]]}, restart => Restart,
      significant => Significant, shutdown => 5000, type => worker};
child_spec(T, Path, {sup, Id, _, _, _, _, Restart, Significant, _} = Spec) ->
    #{id => Id, start => {?MODULE, start_sup, [T, Path ++ [Id], Spec]}, restart => Restart,
      significant => Significant, shutdown => infinity, type => supervisor}.

%% --- workers: record start and stop, exit on command ---

start_worker(T, Path) ->
    record(T, {start, Path}),
    case ets:lookup(T, {fail, Path}) of
        [{_, Count}] when Count > 0 ->
            ets:insert(T, {{fail, Path}, Count - 1}),
            {error, scripted_start_failure};
        _ ->
            case ets:lookup(T, {ignore, Path}) of
                [{_, Count}] when Count > 0 ->
                    ets:insert(T, {{ignore, Path}, Count - 1}),
                    ignore;
                _ ->
                    proc_lib:start_link(?MODULE, worker_init, [T, Path])
            end
    end.

worker_init(T, Path) ->
    process_flag(trap_exit, true),
    ets:insert(T, {{worker, Path}, self()}),
    proc_lib:init_ack({ok, self()}),
    worker_loop(T, Path).

worker_loop(T, Path) ->
    receive
        {'EXIT', _Parent, shutdown} ->
            record(T, {stop, Path}),
            forget(T, Path),
            exit(shutdown);
        {command, Kind} ->
            forget(T, Path),
            exit(case Kind of crash -> crashed; Other -> Other end);
        _ ->
            worker_loop(T, Path)
    end.

forget(T, Path) ->
    ets:delete_object(T, {{worker, Path}, self()}).
