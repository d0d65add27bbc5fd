# bash completion for exectl (installed to share/bash-completion/completions/exectl)
_exectl() {
    local cur prev cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="ping facter service execute deploy release target jobs job cancel shovey"
    local globals="--url --token --cacert --json --help"
    case $prev in
        --cacert) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --url|--token|--limit|--run-timeout|--partial|--extra-vars|--extra-opts|--quorum) return ;;
        --output-type) COMPREPLY=($(compgen -W "stdout stderr both" -- "$cur")); return ;;
    esac
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --) return ;;  # the command's own argv: nothing to suggest
            --url|--token|--cacert|--limit|--run-timeout|--partial|--extra-vars|--extra-opts|--quorum|--output-type) ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands $globals" -- "$cur"))
        return
    fi
    local opts
    case $cmd in
        ping|facter) opts="--async --run-timeout" ;;
        service) opts="--async --run-timeout --graceful start stop restart" ;;
        execute) opts="--async --run-timeout --" ;;
        deploy) opts="--async --run-timeout --partial --extra-vars" ;;
        release) opts="--async --run-timeout --rollback --extra-opts" ;;
        jobs) opts="--limit" ;;
        job) opts="--follow" ;;
        shovey) opts="run jobs job cancel output nodes --async --run-timeout --quorum --limit --output-type" ;;
    esac
    COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))
}
complete -F _exectl exectl
