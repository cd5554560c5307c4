# journey_bench_smoke: every journey-bench mode, tiny, with --check, so each must run to the
# end and report sane figures (events counted, percentiles ordered, memory and restart time
# positive). No timing thresholds: the machine may be busy.
# Run by ctest as: cmake -DBENCH=<journey-bench> -DJOURNEYD=<journeyd> -P journey_bench_smoke.cmake

get_filename_component(HERE ${JOURNEYD} DIRECTORY)
get_filename_component(JOURNEYD_NAME ${JOURNEYD} NAME)

function(bench)
  execute_process(COMMAND ${BENCH} ${ARGN} --check WORKING_DIRECTORY ${HERE}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  list(JOIN ARGN " " command)
  message("$ journey-bench ${command} --check\n${out}${err}")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "journey-bench ${command} --check failed: ${status}")
  endif()
endfunction()

bench(limit --n 20000)
bench(decisioning --n 20000 --customers 2000)
bench(ingest --journeyd ${JOURNEYD} --seconds 2 --no-half --json)
# A fixed number of events per run (peak, then half): --check wants CPU per event positive.
bench(ingest --journeyd ${JOURNEYD} --events 10000 --json)
bench(actors --journeyd ${JOURNEYD} --n 2000)
bench(actors --journeyd ${JOURNEYD} --n 2000 --journey default)
bench(soak --journeyd ${JOURNEYD} --n 2000 --json)
bench(timers --journeyd ${JOURNEYD} --n 2000 --after 4s --spread 2s --json)
# A relative --journeyd (from the binaries' directory, where every mode runs): the children
# change directory before they exec it.
bench(restart --journeyd ./${JOURNEYD_NAME} --n 2000)
# Passivation while populating, then some stored customers live again: RSS and store size.
bench(restart --journeyd ${JOURNEYD} --n 2000 --idle-after 1s --live 200 --json)
bench(identify --journeyd ${JOURNEYD} --n 2000 --json)
bench(cluster --journeyd ${JOURNEYD} --seconds 1 --nodes 1,2 --customers 1000 --json)
