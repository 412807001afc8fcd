import { Text } from 'ink';
import { useKeys } from '../hooks/use-keys';
import { useRef, useState } from 'react';
import { useTheme } from '../hooks/use-theme';

export interface TextInputProps {
  initialValue?: string;
  placeholder?: string;
  /** Called with the whole new value after each edit. */
  onChange?: (value: string) => void;
  onSubmit: (value: string) => void;
  onCancel: () => void;
  isActive?: boolean;
}

/**
 * A one-line text field: type, Backspace, Ctrl+U to clear, Enter to submit, Esc to cancel.
 * The latest value lives in a ref as well as in state, so that keys arriving in one chunk (a paste,
 * or "name⏎" sent at once) all count and Enter submits what was typed.
 */
export function TextInput({ initialValue = '', placeholder = '', onChange, onSubmit, onCancel, isActive = true }: TextInputProps) {
  const { color } = useTheme();
  const latest = useRef(initialValue);
  const [value, setValue] = useState(initialValue);
  const update = (next: string) => {
    latest.current = next;
    setValue(next);
    onChange?.(next);
  };
  useKeys(
    (input, key) => {
      if (key.return) return onSubmit(latest.current);
      if (key.escape) return onCancel();
      if (key.backspace || key.delete) return update([...latest.current].slice(0, -1).join(''));
      if (key.ctrl && input === 'u') return update('');
      if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.pageUp || key.pageDown) return;
      // A chunk such as "name⏎" (a paste, or keys sent at once) carries its Enter inside the text.
      const newline = input.search(/[\r\n]/);
      const typed = newline === -1 ? input : input.slice(0, newline);
      const printable = typed.replace(/\p{Cc}/gu, '');
      if (printable !== '') update(latest.current + printable);
      if (newline !== -1) onSubmit(latest.current);
    },
    { isActive },
  );
  return (
    <Text wrap="truncate-start">
      {value === '' && placeholder ? <Text color={color('gray')}>{placeholder}</Text> : value}
      <Text inverse> </Text>
    </Text>
  );
}
