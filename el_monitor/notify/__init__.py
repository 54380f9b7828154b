"""el-monitor notify: one Icinga notification turned into mails to schema owners."""
