# Sourced (`. scripts/broker-env.sh`) from the repository root by the scripts that start brokers:
# installs the brokers STRAIT_TEST_BROKER names when missing and exports where they are.
#   kafka (the default): Apache Kafka (scripts/install-kafka.sh), KAFKA_LIBS;
#   tansu: Tansu (scripts/install-tansu.sh), TANSU_BIN.
if [ "${STRAIT_TEST_BROKER:-kafka}" = tansu ]; then
  TANSU_BIN="$(scripts/install-tansu.sh)"
  export TANSU_BIN
else
  KAFKA_LIBS="$(scripts/install-kafka.sh)"
  export KAFKA_LIBS
fi
