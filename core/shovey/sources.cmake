# The Shovey face (docs/shovey.md), compiled into exed_core.
set(EXED_SHOVEY_SOURCES
  shovey/shovey_config.cpp
  shovey/quorum.cpp
  shovey/jobs_adapter.cpp
  shovey/runs.cpp
  shovey/documents.cpp
  shovey/service.cpp
  shovey/reports.cpp
  shovey/node_checker.cpp
  shovey/routes.cpp
  shovey/face.cpp
)
