#!/usr/bin/env bash
# Generates contactd's voice prompts, Russian and English, reproducibly from the texts below:
# espeak-ng speaks each text, sox makes it 8 kHz 16-bit mono WAV (what FreeTDM/E1 carries).
#   scripts/prompts.sh OUTDIR     -> OUTDIR/ru/<name>.wav, OUTDIR/en/<name>.wav (names may have a
#                                    folder: num/ holds the words of spoken numbers), and the
#                                    music on hold in OUTDIR/music/8000
#   scripts/prompts.sh --list [ru|en] -> the prompt names (of one language), one a line
#                                    (tests/prompts.rs checks every prompt the code plays is here)
# Installs espeak-ng and sox from Debian if missing. Generated files are not committed.
set -euo pipefail

# name|Russian|English
PROMPTS=$(cat <<'TEXTS'
greeting|Здравствуйте.|Hello.
enter_number|Введите номер и нажмите решётку.|Enter the number, then press hash.
invalid_entry|Неверный ввод.|Invalid entry.
goodbye|До свидания.|Goodbye.
ivr_greeting|Здравствуйте, вы позвонили в энергосбытовую компанию.|Hello, you have reached the electricity company.
after_hours|Операторы сейчас не работают. Показания счётчика принимаются круглосуточно.|Our operators are off duty now. Meter readings are accepted around the clock.
main_menu|Чтобы передать показания, нажмите 1. Чтобы узнать баланс, нажмите 2. Чтобы связаться с оператором, нажмите 0.|To pass meter readings, press 1. To hear your balance, press 2. To speak to an operator, press 0.
account_ending|Ваш лицевой счёт оканчивается на|Your account number ends in
account_offer|Если это ваш счёт, нажмите 1. Чтобы ввести другой, нажмите 2.|If this is your account, press 1. To enter another, press 2.
enter_account|Введите номер лицевого счёта и нажмите решётку.|Enter your account number, then press hash.
account_invalid|Номер лицевого счёта введён неверно.|That account number is not valid.
account_not_found|Лицевой счёт не найден.|That account was not found.
account_check_failed|Сейчас не удаётся проверить лицевой счёт. Соединяем с оператором.|We cannot check your account right now. Connecting you to an operator.
no_meters|На этом счёте нет счётчиков.|There are no meters on this account.
choose_meter|Введите порядковый номер счётчика, как в квитанции.|Enter the meter's position as shown on your bill.
enter_reading|Введите показания счётчика и нажмите решётку.|Enter the meter reading, then press hash.
enter_reading_day|Введите показания дневной зоны и нажмите решётку.|Enter the day zone reading, then press hash.
enter_reading_night|Введите показания ночной зоны и нажмите решётку.|Enter the night zone reading, then press hash.
enter_reading_peak|Введите показания пиковой зоны и нажмите решётку.|Enter the peak zone reading, then press hash.
enter_reading_half_peak|Введите показания полупиковой зоны и нажмите решётку.|Enter the half-peak zone reading, then press hash.
reading_too_many_digits|В показаниях больше цифр, чем на счётчике.|The reading has more digits than the meter.
reading_below_previous|Показания меньше предыдущих принятых.|The reading is below the last accepted reading.
reading_too_high|Показания слишком велики для прошедшего срока.|The reading is too high for the time since the last one.
you_entered|Вы ввели|You entered
confirm_reading|Если верно, нажмите 1. Чтобы ввести заново, нажмите 2.|If this is correct, press 1. To enter it again, press 2.
reading_accepted|Показания приняты. Спасибо.|Your reading has been accepted. Thank you.
reading_not_stored|Не удалось сохранить показания.|Your reading could not be saved.
balance_is|Баланс вашего счёта|Your account balance is
balance_debt|Задолженность по вашему счёту|Your account is in debt by
operators_closed|Операторы сейчас не работают. Позвоните в рабочее время.|Our operators are off duty. Please call during office hours.
service_unavailable|Сервис временно недоступен. Позвоните позже.|The service is temporarily unavailable. Please call later.
operators_busy|Все операторы заняты. Позвоните позже.|All operators are busy. Please call later.
not_authorised|Доступ запрещён.|Access denied.
enter_pin|Введите пин-код.|Enter your PIN.
wrong_pin|Неверный пин-код. Попробуйте ещё раз.|Wrong PIN. Try again.
pin_locked|Пин-код введён неверно три раза.|The PIN was wrong three times.
attention_recording|Внимание, запись. Говорите после сигнала.|Attention, recording. Speak after the beep.
record_menu|Чтобы прослушать, нажмите 1. Чтобы записать заново, нажмите 2. Чтобы продолжить, нажмите 3.|To listen, press 1. To record again, press 2. To continue, press 3.
enter_list_number|Введите номер списка и нажмите решётку.|Enter the list number, then press hash.
list_not_found|Список не найден.|List not found.
list_size_is|В списке абонентов:|Subscribers in the list:
confirm_start|Чтобы начать обзвон, нажмите 1. Чтобы выбрать другой список, нажмите 2.|To start calling, press 1. To pick another list, press 2.
campaign_started|Обзвон начат.|Calling has started.
campaign_failed|Не удалось начать обзвон.|Calling could not be started.
no_campaign|Обзвонов нет.|There is no campaign.
acd_position|Ваш номер в очереди:|Your place in the queue is
acd_wait_minutes|Ожидаемое время ожидания:|The expected wait is
acd_all_busy|Все операторы заняты, и очередь заполнена.|All operators are busy and the queue is full.
acd_wait_too_long|Извините, ожидание затянулось.|We are sorry the wait is so long.
acd_callback_offer|Чтобы мы перезвонили на этот номер, нажмите 1. Чтобы ввести другой номер, нажмите 2.|To be called back on this number, press 1. To enter another number, press 2.
acd_callback_number|Введите номер для обратного звонка и нажмите решётку.|Enter the number to call you back on, then press hash.
acd_callback_stored|Спасибо. Оператор перезвонит вам.|Thank you. An operator will call you back.
acd_invalid|Неверный ввод.|Invalid entry.
operator_ready|Вы готовы принимать звонки.|You are ready for calls.
operator_break|Перерыв.|You are on a break.
operator_absent|Вы отмечены отсутствующим.|You are marked absent.
operator_logged_out|Вы вышли из системы.|You are logged out.
operator_refused|Сейчас нельзя изменить состояние.|Your state cannot be changed now.
operator_unknown|Этот телефон не закреплён за оператором.|This phone does not belong to an operator.
called|Обзвонено|Called
of|из|of
campaign_paused|Обзвон приостановлен.|Calling is paused.
campaign_resumed|Обзвон возобновлён.|Calling has resumed.
campaign_finished|Обзвон завершён.|Calling has finished.
notice|Это тестовое оповещение.|This is a test notice.
press_to_confirm|Чтобы подтвердить, что вы прослушали сообщение, нажмите 1.|To confirm you heard this message, press 1.
# Words of spoken numbers (src/core/speech.rs); an empty column: not used in that language.
num/n0|ноль|zero
num/n1||one
num/n2||two
num/n3|три|three
num/n4|четыре|four
num/n5|пять|five
num/n6|шесть|six
num/n7|семь|seven
num/n8|восемь|eight
num/n9|девять|nine
num/n10|десять|ten
num/n11|одиннадцать|eleven
num/n12|двенадцать|twelve
num/n13|тринадцать|thirteen
num/n14|четырнадцать|fourteen
num/n15|пятнадцать|fifteen
num/n16|шестнадцать|sixteen
num/n17|семнадцать|seventeen
num/n18|восемнадцать|eighteen
num/n19|девятнадцать|nineteen
num/n20|двадцать|twenty
num/n30|тридцать|thirty
num/n40|сорок|forty
num/n50|пятьдесят|fifty
num/n60|шестьдесят|sixty
num/n70|семьдесят|seventy
num/n80|восемьдесят|eighty
num/n90|девяносто|ninety
num/n1m|один|
num/n1f|одна|
num/n2m|два|
num/n2f|две|
num/n100|сто|
num/n200|двести|
num/n300|триста|
num/n400|четыреста|
num/n500|пятьсот|
num/n600|шестьсот|
num/n700|семьсот|
num/n800|восемьсот|
num/n900|девятьсот|
num/hundred||hundred
num/thousand||thousand
num/million||million
num/billion||billion
num/thousand_1|тысяча|
num/thousand_2|тысячи|
num/thousand_5|тысяч|
num/million_1|миллион|
num/million_2|миллиона|
num/million_5|миллионов|
num/billion_1|миллиард|
num/billion_2|миллиарда|
num/billion_5|миллиардов|
num/rub_1|рубль|ruble
num/rub_2|рубля|rubles
num/rub_5|рублей|rubles
num/kop_1|копейка|kopeck
num/kop_2|копейки|kopecks
num/kop_5|копеек|kopecks
num/uah_1|гривна|hryvnia
num/uah_2|гривны|hryvnias
num/uah_5|гривен|hryvnias
num/uah_kop_1|копейка|kopiyka
num/uah_kop_2|копейки|kopiykas
num/uah_kop_5|копеек|kopiykas
num/azn_1|манат|manat
num/azn_2|маната|manats
num/azn_5|манатов|manats
num/qapik_1|гяпик|qapik
num/qapik_2|гяпика|qapiks
num/qapik_5|гяпиков|qapiks
num/minute_1|минута|minute
num/minute_2|минуты|minutes
num/minute_5|минут|minutes
TEXTS
)

# Rows of PROMPTS (no comments), and the names spoken in one language.
rows() { grep -v '^#' <<<"$PROMPTS"; }
if [ "${1:-}" = "--list" ]; then
  case "${2:-}" in
    "") rows | cut -d'|' -f1 ;;
    ru) rows | awk -F'|' '$2 != ""' | cut -d'|' -f1 ;;
    en) rows | awk -F'|' '$3 != ""' | cut -d'|' -f1 ;;
    *) echo "usage: $0 --list [ru|en]" >&2; exit 64 ;;
  esac
  exit 0
fi
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR | --list [ru|en]" >&2; exit 64; }
OUT=$1

if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq espeak-ng sox >/dev/null
fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
while IFS='|' read -r name ru en; do
  for lang in ru en; do
    text=$ru; [ "$lang" = en ] && text=$en
    [ -n "$text" ] || continue
    mkdir -p "$(dirname "$OUT/$lang/$name.wav")"
    # fixed voice, speed and pitch: the same text gives the same audio on every machine
    espeak-ng -v "$lang" -s 150 -p 50 -w "$tmp/p.wav" -- "$text"
    sox -V1 "$tmp/p.wav" -r 8000 -b 16 -c 1 -e signed-integer "$OUT/$lang/$name.wav"
    n=$((n + 1))
  done
done < <(rows)

# Music on hold for mod_local_stream (local_stream://moh plays $${sounds_dir}/music/8000):
# 32 s of plucked arpeggios (C, Am, F, G) made by sox, so no third-party music is needed.
mkdir -p "$OUT/music/8000"
notes=()
for chord in "-9 -5 -2 3" "-12 -9 -5 0" "-16 -12 -9 -4" "-14 -10 -7 -2"; do
  for s in $chord; do
    f="$tmp/note${#notes[@]}.wav"
    sox -V1 -n -r 8000 -b 16 -c 1 "$f" synth 0.5 pluck "%$s" gain -8 fade 0 0.5 0.05
    notes+=("$f")
  done
done
sox -V1 "${notes[@]}" "$tmp/bar.wav"
sox -V1 "$tmp/bar.wav" "$tmp/bar.wav" "$tmp/bar.wav" "$tmp/bar.wav" -e signed-integer "$OUT/music/8000/contactd-hold.wav"
echo "prompts: $n files (ru, en) and music on hold in $OUT"
