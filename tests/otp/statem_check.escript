#!/usr/bin/env escript
%%! -noshell
%% Runs generated scenarios through a real gen_statem and prints what it handled.
%%
%% Input: a file of terms {scenario, N, StateEnter, Table, Schedule, End} (see
%% tests/statem_model.py and tests/test_otp_agreement.py); times are in units of UnitMs
%% milliseconds (the second argument). Output, one tab-separated line per fact:
%% "handled N State Key Extra" in the order the machine handled them, then
%% "reply N CallId Outcome". All scenarios run at once.
-module(statem_check).
-mode(compile).
-behaviour(gen_statem).
-export([main/1, init/1, callback_mode/0, handle_event/4, terminate/3]).

main([File, UnitText]) ->
    Unit = list_to_integer(UnitText),
    {ok, Terms} = file:consult(File),
    Main = self(),
    Scenarios = [S || {scenario, _, _, _, _, _} = S <- Terms],
    [spawn(fun() -> Main ! {done, N, run(S, Unit)} end) || {scenario, N, _, _, _, _} = S <- Scenarios],
    Results = [receive {done, N, R} -> {N, R} end || {scenario, N, _, _, _, _} <- Scenarios],
    [print(N, Log, Replies) || {N, {Log, Replies}} <- Results],
    halt(0).

print(N, Log, Replies) ->
    [io:format("handled\t~b\t~s\t~s\t~s~n", [N, State, Key, text(Extra)]) || {State, Key, Extra} <- Log],
    [io:format("reply\t~b\t~s\t~s~n", [N, Id, text(Outcome)]) || {Id, Outcome} <- lists:sort(Replies)].

text(none) -> "-";
text(exited) -> "exited";
text({Id, State}) -> io_lib:format("~s,~s", [Id, State]);
text(Atom) when is_atom(Atom) -> atom_to_list(Atom).

run({scenario, _N, StateEnter, Table, Schedule, End}, Unit) ->
    process_flag(trap_exit, true),
    Self = self(),
    {ok, P} = gen_statem:start(?MODULE, {StateEnter, maps:from_list(Table), Unit, Self}, []),
    T0 = erlang:monotonic_time(millisecond),
    Calls = lists:foldl(
        fun({At, Kind, Content}, Count) ->
            sleep_until(T0 + round(At * Unit)),
            case Kind of
                cast -> gen_statem:cast(P, Content), Count;
                call ->
                    spawn(fun() ->
                        Outcome = try gen_statem:call(P, Content) catch exit:_ -> exited end,
                        Self ! {reply, Content, Outcome}
                    end),
                    Count + 1
            end
        end, 0, Schedule),
    sleep_until(T0 + round(End * Unit)),
    ok = gen_statem:stop(P),
    Log = receive {log, L} -> L end,
    Replies = [receive {reply, Id, Outcome} -> {Id, Outcome} end || _ <- lists:seq(1, Calls)],
    {Log, Replies}.

sleep_until(Deadline) ->
    Wait = Deadline - erlang:monotonic_time(millisecond),
    if Wait > 0 -> timer:sleep(Wait); true -> ok end.

%% The table-driven machine; the log is kept in the data, newest first.

init({StateEnter, Table, Unit, Main}) ->
    put(state_enter, StateEnter),
    {ok, a, #{table => Table, unit => Unit, main => Main, log => []}}.

callback_mode() ->
    case get(state_enter) of
        true -> [handle_event_function, state_enter];
        _ -> handle_event_function
    end.

handle_event(enter, Old, State, Data) ->
    {_, Actions} = maps:get({State, enter}, maps:get(table, Data), {none, []}),
    {keep_state, log(State, enter, Old, Data), actions(Actions, none, State, Data)};
handle_event(Type, Content, State, Data) ->
    {Key, Extra, From} = key(Type, Content),
    {Next, Actions} = maps:get({State, Key}, maps:get(table, Data), {none, []}),
    NewData = log(State, Key, Extra, Data),
    Built = actions(Actions, From, {Extra, State}, Data),
    case Next of
        none -> {keep_state, NewData, Built};
        _ -> {next_state, Next, NewData, Built}
    end.

key({call, From}, Id) -> {call, Id, From};
key(cast, Key) -> {Key, none, none};
key(internal, i) -> {i, none, none};
key(state_timeout, st) -> {st, none, none};
key(timeout, et) -> {et, none, none};
key({timeout, g}, gt) -> {gt, none, none}.

log(State, Key, Extra, Data) ->
    Data#{log := [{State, Key, Extra} | maps:get(log, Data)]}.

actions(Actions, From, Reply, Data) ->
    Unit = maps:get(unit, Data),
    [action(A, From, Reply, Unit) || A <- Actions].

action({postpone}, _, _, _) -> postpone;
action({next}, _, _, _) -> {next_event, internal, i};
action({reply}, From, Reply, _) -> {reply, From, Reply};
action({st, D}, _, _, Unit) -> {state_timeout, D * Unit, st};
action({et, D}, _, _, Unit) -> {timeout, D * Unit, et};
action({gt, D}, _, _, Unit) -> {{timeout, g}, D * Unit, gt};
action({st_cancel}, _, _, _) -> {state_timeout, cancel};
action({gt_cancel}, _, _, _) -> {{timeout, g}, cancel};
action({st_update}, _, _, _) -> {state_timeout, update, st}.

terminate(_Reason, _State, Data) ->
    maps:get(main, Data) ! {log, lists:reverse(maps:get(log, Data))}.
