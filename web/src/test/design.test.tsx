import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Alert, Button, Checkbox, EmptyState, SelectField, TextAreaField, TextField, initials } from '../design';

afterEach(cleanup);

describe('Button', () => {
  it('is busy and swallows clicks while loading', () => {
    const onClick = vi.fn();
    const { rerender } = render(
      <Button loading onClick={onClick}>
        Save
      </Button>,
    );
    const button = screen.getByRole('button', { name: 'Save' });
    expect(button.getAttribute('aria-busy')).toBe('true');
    expect(button.className).toContain('nx-button--loading');
    fireEvent.click(button);
    expect(onClick).not.toHaveBeenCalled();

    rerender(
      <Button variant="ghost" onClick={onClick}>
        Save
      </Button>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(onClick).toHaveBeenCalledTimes(1);
    expect(screen.getByRole('button').className).toContain('nx-button--ghost');
  });

  it('defaults to type=button so it never submits forms by accident', () => {
    render(<Button>Go</Button>);
    expect(screen.getByRole('button').getAttribute('type')).toBe('button');
  });
});

describe('TextField', () => {
  it('labels the input and links its error text', () => {
    render(<TextField label="E-mail" error="Enter your e-mail address." hint="Work address" />);
    const input = screen.getByLabelText('E-mail');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    const describedBy = input.getAttribute('aria-describedby')?.split(' ') ?? [];
    const texts = describedBy.map((id) => document.getElementById(id)?.textContent);
    expect(texts).toEqual(['Work address', 'Enter your e-mail address.']);
  });

  it('is not marked invalid without an error', () => {
    render(<TextField label="Name" />);
    expect(screen.getByLabelText('Name').getAttribute('aria-invalid')).toBeNull();
  });
});

describe('SelectField, TextAreaField and Checkbox', () => {
  it('label their controls and link hints and errors', () => {
    render(
      <>
        <SelectField label="Role" hint="What they may do" error="Choose a role." defaultValue="member">
          <option value="member">Member</option>
        </SelectField>
        <TextAreaField label="Redirect URIs" hint="One per line" />
        <Checkbox label="audit:read" description="read the audit log" />
      </>,
    );
    const select = screen.getByLabelText('Role');
    expect(select.tagName).toBe('SELECT');
    expect(select.getAttribute('aria-invalid')).toBe('true');
    const ids = select.getAttribute('aria-describedby')?.split(' ') ?? [];
    expect(ids.map((id) => document.getElementById(id)?.textContent)).toEqual(['What they may do', 'Choose a role.']);
    expect(screen.getByLabelText('Redirect URIs').tagName).toBe('TEXTAREA');
    const box = screen.getByRole('checkbox', { name: 'audit:read' });
    expect(document.getElementById(box.getAttribute('aria-describedby') ?? '')?.textContent).toBe('read the audit log');
  });
});

describe('Alert and EmptyState', () => {
  it('announces danger alerts assertively and can be dismissed', () => {
    const onDismiss = vi.fn();
    render(
      <Alert tone="danger" title="Failed" onDismiss={onDismiss}>
        Try again
      </Alert>,
    );
    expect(screen.getByRole('alert').textContent).toContain('Failed');
    fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(onDismiss).toHaveBeenCalled();
  });

  it('renders title, description and action', () => {
    render(<EmptyState title="Nothing here" description="Add something" action={<button>Add</button>} />);
    expect(screen.getByRole('heading', { name: 'Nothing here' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Add' })).toBeTruthy();
  });
});

describe('initials', () => {
  it('takes first and last initials', () => {
    expect(initials('Ada King Lovelace')).toBe('AL');
    expect(initials('admin')).toBe('A');
    expect(initials('  ')).toBe('?');
  });
});
